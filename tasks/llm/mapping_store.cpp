#include "tasks/llm/mapping_store.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "pg/sql_text.hpp"

namespace celeriac::tasks::llm {
namespace {

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

template <class Range, class Get>
std::string text_array(const Range& items, Get get) {
  pg::array_literal a;
  for (const auto& item : items) a.add(std::string_view(get(item)));
  return a.finish();
}

std::string text_array(const std::vector<std::string>& items) {
  return text_array(items, [](const std::string& s) -> const std::string& { return s; });
}

std::string id_array(const std::vector<std::int64_t>& ids) {
  pg::array_literal a;
  for (std::int64_t id : ids) a.add(id);
  return a.finish();
}

template <class Range, class Get>
std::string optional_text_array(const Range& items, Get get) {
  pg::array_literal a;
  for (const auto& item : items) {
    const std::optional<std::string>& v = get(item);
    v ? a.add(std::string_view(*v)) : a.add_null();
  }
  return a.finish();
}

// Empty strings become NULL: "no provider", "no error".
template <class Range, class Get>
std::string nullable_text_array(const Range& items, Get get) {
  pg::array_literal a;
  for (const auto& item : items) {
    const std::string& v = get(item);
    v.empty() ? a.add_null() : a.add(std::string_view(v));
  }
  return a.finish();
}

template <class Range, class Get>
std::string number_array(const Range& items, Get get) {
  pg::array_literal a;
  for (const auto& item : items) {
    std::optional<double> v = get(item);
    v ? a.add(std::string_view(fmt::format("{}", *v))) : a.add_null();
  }
  return a.finish();
}

std::vector<cached_answer> read_answers(const pqxx::result& rows) {
  std::vector<cached_answer> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    cached_answer a;
    a.key = r[0].as<std::string>();
    a.matched_key = r[1].as<std::string>();
    a.category = r[2].as<std::string>();
    if (!r[3].is_null()) a.ticker = r[3].as<std::string>();
    a.confidence = r[4].as<double>();
    a.source = r[5].as<std::string>();
    a.provider = r[6].is_null() ? "" : r[6].as<std::string>();
    a.model = r[7].is_null() ? "" : r[7].as<std::string>();
    a.admin_approved = r[8].as<bool>();
    a.similarity = r[9].as<double>();
    out.push_back(std::move(a));
  }
  return out;
}

void cache_answers(pqxx::work& tx, const std::vector<model_answer>& answers) {
  if (answers.empty()) return;
  // A heuristic answer never replaces a model's, and nothing replaces an
  // approved row.
  tx.exec_params(
      R"sql(
INSERT INTO merchant_mappings AS m (merchant_key, category, ticker, confidence, source, provider, model)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[])
ON CONFLICT (merchant_key) DO UPDATE
   SET category = EXCLUDED.category, ticker = EXCLUDED.ticker, confidence = EXCLUDED.confidence,
       source = EXCLUDED.source, provider = EXCLUDED.provider, model = EXCLUDED.model, updated_at = now()
 WHERE NOT m.admin_approved AND NOT (EXCLUDED.source = 'heuristic' AND m.source <> 'heuristic'))sql",
      text_array(answers, [](const model_answer& a) -> const std::string& { return a.key; }),
      text_array(answers, [](const model_answer& a) -> const std::string& { return a.category; }),
      optional_text_array(answers, [](const model_answer& a) -> const std::optional<std::string>& { return a.ticker; }),
      number_array(answers, [](const model_answer& a) { return std::optional<double>(a.confidence); }),
      text_array(answers, [](const model_answer& a) -> const std::string& { return a.source; }),
      nullable_text_array(answers, [](const model_answer& a) -> const std::string& { return a.provider; }),
      nullable_text_array(answers, [](const model_answer& a) -> const std::string& { return a.model; }));
}

std::size_t update_rows(pqxx::work& tx, const std::string& token, const std::vector<row_outcome>& rows) {
  if (rows.empty()) return 0;
  std::vector<std::int64_t> ids;
  for (const auto& r : rows) ids.push_back(r.id);
  auto result = tx.exec_params(
      R"sql(
UPDATE llm_mappings m
   SET merchant_key = r.key,
       status = CASE WHEN r.mapped THEN 'mapped' ELSE 'failed' END,
       category = CASE WHEN r.mapped THEN r.category ELSE m.category END,
       ticker = CASE WHEN r.mapped THEN r.ticker ELSE m.ticker END,
       confidence = CASE WHEN r.mapped THEN r.confidence ELSE m.confidence END,
       source = r.source, provider = r.provider, model = r.model, error = r.error,
       mapped_at = CASE WHEN r.mapped THEN now() ELSE m.mapped_at END,
       updated_at = now(), claimed_by = NULL, claim_expires_at = NULL
  FROM unnest($2::bigint[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::float8[], $8::text[],
              $9::text[], $10::text[], $11::text[])
       AS r(id, key, mapped, category, ticker, confidence, source, provider, model, error)
 WHERE m.id = r.id AND m.claimed_by = $1 AND m.status = 'pending')sql",
      token, id_array(ids), text_array(rows, [](const row_outcome& r) -> const std::string& { return r.key; }),
      text_array(rows, [](const row_outcome& r) -> const std::string& {
        static const std::string t = "true", f = "false";
        return r.mapped ? t : f;
      }),
      nullable_text_array(rows, [](const row_outcome& r) -> const std::string& { return r.category; }),
      optional_text_array(rows, [](const row_outcome& r) -> const std::optional<std::string>& { return r.ticker; }),
      number_array(rows, [](const row_outcome& r) { return r.confidence; }),
      nullable_text_array(rows, [](const row_outcome& r) -> const std::string& { return r.source; }),
      nullable_text_array(rows, [](const row_outcome& r) -> const std::string& { return r.provider; }),
      nullable_text_array(rows, [](const row_outcome& r) -> const std::string& { return r.model; }),
      nullable_text_array(rows, [](const row_outcome& r) -> const std::string& { return r.error; }));
  return static_cast<std::size_t>(result.affected_rows());
}

void count_hits(pqxx::work& tx, std::vector<std::pair<std::string, std::int64_t>> hits) {
  if (hits.empty()) return;
  // Sorted, so concurrent batches lock shared cache rows in one order.
  std::sort(hits.begin(), hits.end());
  pg::array_literal keys, counts;
  for (const auto& [k, n] : hits) {
    keys.add(std::string_view(k));
    counts.add(n);
  }
  tx.exec_params(
      "UPDATE merchant_mappings m SET hit_count = m.hit_count + h.n, last_hit_at = now() "
      "FROM (SELECT key, sum(n) AS n FROM unnest($1::text[], $2::bigint[]) AS u(key, n) GROUP BY key ORDER BY key) h "
      "WHERE m.merchant_key = h.key",
      keys.finish(), counts.finish());
}

void record_interactions(pqxx::work& tx, const std::vector<interaction>& calls) {
  if (calls.empty()) return;
  auto num = [&](auto get) {
    pg::array_literal a;
    for (const auto& i : calls) a.add(static_cast<std::int64_t>(get(i)));
    return a.finish();
  };
  auto real = [&](auto get) {
    return number_array(calls, [&](const interaction& i) { return std::optional<double>(get(i)); });
  };
  tx.exec_params(
      R"sql(
INSERT INTO ai_interactions (job_id, provider, model, merchants, tokens_in, tokens_out, latency_ms, cost_usd,
                             http_status, error, cache_hits, near_hits, cache_misses)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::float8[],
                     $8::numeric[], $9::int[], $10::text[], $11::int[], $12::int[], $13::int[]))sql",
      nullable_text_array(calls, [](const interaction& i) -> const std::string& { return i.job_id; }),
      text_array(calls, [](const interaction& i) -> const std::string& { return i.provider; }),
      nullable_text_array(calls, [](const interaction& i) -> const std::string& { return i.model; }),
      num([](const interaction& i) { return i.merchants; }), num([](const interaction& i) { return i.tokens_in; }),
      num([](const interaction& i) { return i.tokens_out; }), real([](const interaction& i) { return i.latency_ms; }),
      real([](const interaction& i) { return i.cost_usd; }),
      [&] {
        pg::array_literal a;
        for (const auto& i : calls) i.http_status ? a.add(static_cast<std::int64_t>(*i.http_status)) : a.add_null();
        return a.finish();
      }(),
      nullable_text_array(calls, [](const interaction& i) -> const std::string& { return i.error; }),
      num([](const interaction& i) { return i.cache_hits; }), num([](const interaction& i) { return i.near_hits; }),
      num([](const interaction& i) { return i.cache_misses; }));
}

}  // namespace

std::vector<claimed_row> claim_pending(pqxx::connection& c, const std::string& token, std::size_t limit,
                                       std::chrono::milliseconds lease) {
  pqxx::work tx{c};
  // The partial index on (id) WHERE status = 'pending' serves the scan in
  // id order; SKIP LOCKED lets concurrent claimers take disjoint rows.
  auto rows = tx.exec_params(
      R"sql(
WITH picked AS (
  SELECT id FROM llm_mappings
   WHERE status = 'pending' AND category IS NULL
     AND (claim_expires_at IS NULL OR claim_expires_at < now())
   ORDER BY id
   LIMIT $1
   FOR UPDATE SKIP LOCKED)
UPDATE llm_mappings m
   SET claimed_by = $2, claim_expires_at = now() + make_interval(secs => $3), attempts = m.attempts + 1
  FROM picked
 WHERE m.id = picked.id
RETURNING m.id, m.merchant_name, m.attempts)sql",
      static_cast<std::int64_t>(limit), token, seconds(lease));
  tx.commit();
  std::vector<claimed_row> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<int>()});
  std::sort(out.begin(), out.end(), [](const claimed_row& a, const claimed_row& b) { return a.id < b.id; });
  return out;
}

std::int64_t count_pending(pqxx::connection& c) {
  pqxx::nontransaction tx{c};
  return tx.exec1("SELECT count(*) FROM llm_mappings WHERE status = 'pending' AND category IS NULL")[0]
      .as<std::int64_t>();
}

std::vector<cached_answer> lookup_exact(pqxx::connection& c, const std::vector<std::string>& keys,
                                        bool accept_heuristic) {
  if (keys.empty()) return {};
  pqxx::nontransaction tx{c};
  auto rows = tx.exec_params(
      "SELECT merchant_key, merchant_key, category, ticker, confidence, source, provider, model, admin_approved, "
      "1.0::float8 FROM merchant_mappings WHERE merchant_key = ANY($1::text[]) AND ($2 OR source <> 'heuristic' OR "
      "admin_approved)",
      text_array(keys), accept_heuristic);
  return read_answers(rows);
}

std::optional<std::vector<cached_answer>> lookup_near(pqxx::connection& c, const std::vector<std::string>& keys,
                                                      double threshold, double min_confidence,
                                                      std::chrono::milliseconds budget) {
  if (keys.empty()) return std::vector<cached_answer>{};
  pqxx::work tx{c};
  tx.exec("SET LOCAL statement_timeout = '" + std::to_string(std::max<long long>(1, budget.count())) + "ms'");
  // The GIN trigram index serves the % filter at the threshold set for
  // this transaction; the few candidates it returns are ranked here.
  tx.exec_params("SELECT set_config('pg_trgm.similarity_threshold', $1, true)", fmt::format("{}", threshold));
  // A cache filled since the last ANALYZE looks empty to the planner, which
  // then picks a sequential scan computing similarity against every row for
  // every name (seconds per batch). The trigram index is always the right
  // plan for this query.
  tx.exec("SET LOCAL enable_seqscan = off");
  pqxx::result rows;
  try {
    rows = tx.exec_params(
      R"sql(
SELECT q.key, m.merchant_key, m.category, m.ticker, m.confidence, m.source, m.provider, m.model, m.admin_approved,
       m.sim
  FROM unnest($1::text[]) AS q(key)
  CROSS JOIN LATERAL (
    SELECT c.*, similarity(c.merchant_key, q.key)::float8 AS sim FROM merchant_mappings c
     WHERE c.merchant_key % q.key AND c.merchant_key <> q.key AND c.source <> 'heuristic'
       AND (c.admin_approved OR c.confidence >= $2)
     ORDER BY sim DESC, c.merchant_key
     LIMIT 1) m
 WHERE m.sim >= $3)sql",
      text_array(keys), min_confidence, threshold);
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "57014") return std::nullopt;  // query_canceled: over budget
    throw;
  }
  tx.commit();
  return read_answers(rows);
}

bool near_matches_available(pqxx::connection& c) {
  pqxx::nontransaction tx{c};
  return !tx.exec("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").empty();
}

std::vector<std::string> reserve_names(pqxx::connection& c, const std::vector<std::string>& keys,
                                       const std::string& token, std::chrono::milliseconds lease) {
  if (keys.empty()) return {};
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  pqxx::work tx{c};
  auto rows = tx.exec_params(
      R"sql(
INSERT INTO merchant_mapping_requests AS r (merchant_key, held_by, held_until)
SELECT k, $2, now() + make_interval(secs => $3) FROM unnest($1::text[]) AS k
ON CONFLICT (merchant_key) DO UPDATE SET held_by = EXCLUDED.held_by, held_until = EXCLUDED.held_until
 WHERE r.held_until < now()
RETURNING merchant_key)sql",
      text_array(sorted), token, seconds(lease));
  tx.commit();
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r[0].as<std::string>());
  return out;
}

void release_names(pqxx::connection& c, const std::vector<std::string>& keys, const std::string& token) {
  if (keys.empty()) return;
  pqxx::work tx{c};
  tx.exec_params("DELETE FROM merchant_mapping_requests WHERE merchant_key = ANY($1::text[]) AND held_by = $2",
                 text_array(keys), token);
  tx.commit();
}

void defer_rows(pqxx::connection& c, const std::vector<std::int64_t>& ids, const std::string& token,
                std::chrono::milliseconds delay) {
  if (ids.empty()) return;
  pqxx::work tx{c};
  tx.exec_params(
      "UPDATE llm_mappings SET claimed_by = NULL, claim_expires_at = now() + make_interval(secs => $3), "
      "attempts = greatest(attempts - 1, 0) WHERE id = ANY($1::bigint[]) AND claimed_by = $2",
      id_array(ids), token, seconds(delay));
  tx.commit();
}

std::vector<claimed_row> unkeyed_rows(pqxx::connection& c, std::size_t limit) {
  pqxx::nontransaction tx{c};
  auto rows = tx.exec_params(
      "SELECT id, merchant_name FROM llm_mappings WHERE merchant_key IS NULL AND status <> 'pending' ORDER BY id "
      "LIMIT $1",
      static_cast<std::int64_t>(limit));
  std::vector<claimed_row> out;
  for (const auto& r : rows) out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>(), 0});
  return out;
}

std::size_t fill_keys(pqxx::connection& c, const std::vector<std::pair<std::int64_t, std::string>>& keys) {
  if (keys.empty()) return 0;
  pg::array_literal ids, names;
  for (const auto& [id, key] : keys) {
    ids.add(id);
    names.add(std::string_view(key));
  }
  pqxx::work tx{c};
  auto r = tx.exec_params(
      "UPDATE llm_mappings m SET merchant_key = k.key FROM unnest($1::bigint[], $2::text[]) AS k(id, key) "
      "WHERE m.id = k.id AND m.merchant_key IS NULL",
      ids.finish(), names.finish());
  tx.commit();
  return static_cast<std::size_t>(r.affected_rows());
}

std::size_t write_results(pqxx::connection& c, const std::string& token, const write_batch& batch) {
  pqxx::work tx{c};
  cache_answers(tx, batch.answers);
  std::size_t written = update_rows(tx, token, batch.rows);
  count_hits(tx, batch.hits);
  if (!batch.done_names.empty())
    tx.exec_params("DELETE FROM merchant_mapping_requests WHERE merchant_key = ANY($1::text[]) AND held_by = $2",
                   text_array(batch.done_names), token);
  record_interactions(tx, batch.interactions);
  tx.commit();
  return written;
}

}  // namespace celeriac::tasks::llm
