#include "pg/job_writer.hpp"

#include <array>
#include <exception>

#include <fmt/format.h>
#include <pqxx/result>
#include <pqxx/tablewriter>
#include <pqxx/transaction>

#include "json/dump.hpp"
#include "pg/job_notification.hpp"
#include "pg/pool.hpp"
#include "pg/sql_text.hpp"

namespace celeriac::pg {
namespace {

// A batch is first copied into this table (COPY is several times cheaper
// for the server than unpacking array parameters), then upserted from it
// in one statement. Temporary, so each connection has its own, and it is
// emptied at every commit. Times travel as microseconds since the epoch:
// cheaper to write and to read than ISO text.
constexpr std::string_view staging_table = "pg_temp.celeriac_jobs_incoming";
constexpr std::array<const char*, 16> staging_columns = {
    "task_id", "name",    "queue",  "state",      "progress_done", "progress_total", "progress_unit", "meta",
    "message", "error",   "result", "attempts",   "worker",        "created_us",     "started_us",    "finished_us"};

// One round trip per transaction; IF NOT EXISTS answers with a notice
// when the table is there, which the SET keeps off the client.
std::string build_staging_sql() {
  return fmt::format(R"sql(
SET LOCAL client_min_messages = warning;
CREATE TEMP TABLE IF NOT EXISTS {} (
  task_id text, name text, queue text, state text, progress_done bigint, progress_total bigint,
  progress_unit text, meta jsonb, message text, error text, result jsonb, attempts integer, worker text,
  created_us bigint, started_us bigint, finished_us bigint
) ON COMMIT DELETE ROWS
)sql",
                     staging_table);
}

// Does the incoming row (EXCLUDED) take over the stored one (j)? The SQL
// twin of takes_over() in job_update.cpp.
constexpr std::string_view takes_over_sql = R"sql((
  (celeriac_job_state_rank(EXCLUDED.state) = 4
     AND (celeriac_job_state_rank(j.state) < 4 OR EXCLUDED.attempts >= j.attempts))
  OR (celeriac_job_state_rank(EXCLUDED.state) < 4 AND celeriac_job_state_rank(j.state) < 4
     AND (EXCLUDED.attempts > j.attempts
          OR (EXCLUDED.attempts = j.attempts
              AND celeriac_job_state_rank(EXCLUDED.state) >= celeriac_job_state_rank(j.state))))
))sql";

// Newer value when the incoming row takes over, stored one otherwise; NULL
// never erases a value (the twin of pick()).
std::string pick(std::string_view column) {
  return fmt::format("{0} = CASE WHEN {1} THEN COALESCE(EXCLUDED.{0}, j.{0}) ELSE COALESCE(j.{0}, EXCLUDED.{0}) END",
                     column, takes_over_sql);
}

// A final state that takes over reports its own error and result.
std::string outcome(std::string_view column) {
  return fmt::format(
      "{0} = CASE WHEN {1} AND celeriac_job_state_rank(EXCLUDED.state) = 4 THEN EXCLUDED.{0} "
      "WHEN {1} THEN COALESCE(EXCLUDED.{0}, j.{0}) ELSE COALESCE(j.{0}, EXCLUDED.{0}) END",
      column, takes_over_sql);
}

std::string build_upsert_sql() {
  // ORDER BY: concurrent batches (other workers' too) lock rows in one
  // order and cannot deadlock. The rows arrive sorted (job_buffer::take),
  // and the server's sort checks for that first, so it costs little.
  return fmt::format(R"sql(
INSERT INTO celeriac_jobs AS j
  (task_id, name, queue, state, progress_done, progress_total, progress_unit, meta, message, error,
   result, attempts, worker, created_at, started_at, finished_at, updated_at)
SELECT task_id, name, queue, state, progress_done, progress_total, progress_unit, meta, message, error,
       result, attempts, worker, COALESCE(to_timestamp(created_us / 1e6::float8), now()),
       to_timestamp(started_us / 1e6::float8), to_timestamp(finished_us / 1e6::float8), now()
FROM {staging}
ORDER BY task_id COLLATE "C"
ON CONFLICT (task_id) DO UPDATE SET
  state = CASE WHEN {takes_over} THEN EXCLUDED.state ELSE j.state END,
  progress_done = CASE
    WHEN EXCLUDED.attempts = j.attempts THEN GREATEST(j.progress_done, EXCLUDED.progress_done)
    WHEN EXCLUDED.attempts > j.attempts AND {takes_over} THEN COALESCE(EXCLUDED.progress_done, j.progress_done)
    ELSE j.progress_done END,
  {progress_total},
  {progress_unit},
  {meta},
  {name},
  {queue},
  {worker},
  {message},
  {error},
  {result},
  attempts = GREATEST(j.attempts, EXCLUDED.attempts),
  created_at = LEAST(j.created_at, EXCLUDED.created_at),
  started_at = COALESCE(j.started_at, EXCLUDED.started_at),
  finished_at = COALESCE(j.finished_at, EXCLUDED.finished_at),
  updated_at = now()
RETURNING j.task_id, j.state, j.progress_done, j.progress_total, j.progress_unit
)sql",
                     fmt::arg("staging", staging_table), fmt::arg("takes_over", takes_over_sql),
                     fmt::arg("progress_total", pick("progress_total")),
                     fmt::arg("progress_unit", pick("progress_unit")), fmt::arg("meta", pick("meta")),
                     fmt::arg("name", pick("name")), fmt::arg("queue", pick("queue")),
                     fmt::arg("worker", pick("worker")), fmt::arg("message", pick("message")),
                     fmt::arg("error", outcome("error")), fmt::arg("result", outcome("result")));
}

constexpr const char* upsert_statement = "celeriac_jobs_upsert";

const std::string& staging_sql() {
  static const std::string sql = build_staging_sql();
  return sql;
}

const std::string& upsert_sql() {
  static const std::string sql = build_upsert_sql();
  return sql;
}

void add_time(copy_text& row, const std::optional<util::wall_time>& t) {
  t ? row.add(std::int64_t{t->time_since_epoch().count()}) : row.add_null();
}

void add_label(copy_text& rows, const std::optional<label>& l) { l ? rows.add(l->view()) : rows.add_null(); }

void encode_copy_row(copy_text& rows, const job_ref& r) {
  const job_update& u = *r.update;
  rows.add(r.task_id);
  add_label(rows, u.name);
  add_label(rows, u.queue);
  rows.add(to_string(u.state));
  rows.add(u.progress_done);
  rows.add(u.progress_total);
  rows.add(u.progress_unit);
  u.meta ? rows.add(json::dump(*u.meta, json::style::compact)) : rows.add_null();
  rows.add(u.message);
  rows.add(u.error);
  rows.add(u.result);
  rows.add(std::int64_t{u.attempts});
  add_label(rows, u.worker);
  add_time(rows, u.created_at);
  add_time(rows, u.started_at);
  add_time(rows, u.finished_at);
  rows.end_row();
}

}  // namespace

std::vector<job_ref> refs_of(std::span<const job_update> updates) {
  std::vector<job_ref> refs;
  refs.reserve(updates.size());
  for (const job_update& u : updates) refs.push_back({u.task_id, &u});
  return refs;
}

void encode_copy_rows(std::span<const job_ref> updates, const std::function<void(std::string& rows)>& send) {
  copy_text rows;
  std::string& text = rows.text();
  text.reserve(copy_chunk_bytes + 4096);
  for (const job_ref& r : updates) {
    encode_copy_row(rows, r);
    if (text.size() < copy_chunk_bytes) continue;
    send(text);
    text.clear();
  }
  if (text.empty()) return;
  send(text);
  text.clear();
}

namespace {

// libpqxx 6.4 has no other public way to send COPY data that is already
// formatted: stream_to formats every field itself, with a few allocations
// each. tablewriter is deprecated there but works (libpqxx 7 drops it).
// Many rows go as one "line": write_raw_line hands its text to
// PQputCopyData with a newline appended (after stripping one, at the price
// of a copy, hence the pop_back).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void copy_to_staging(pqxx::work& tx, std::span<const job_ref> updates) {
  pqxx::tablewriter writer{tx, std::string(staging_table), staging_columns.begin(), staging_columns.end()};
  encode_copy_rows(updates, [&writer](std::string& rows) {
    rows.pop_back();
    writer.write_raw_line(rows);
  });
  writer.complete();
}
#pragma GCC diagnostic pop

std::optional<std::int64_t> optional_integer(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

// One NOTIFY per payload, all in the batch's transaction: delivered at
// commit, and only if it commits.
void notify(pqxx::work& tx, const pqxx::result& written) {
  job_notification_packer packer;
  for (const auto& row : written) {
    std::optional<std::string_view> unit;
    if (!row[4].is_null()) unit = std::string_view(row[4].c_str(), row[4].size());
    packer.add(std::string_view(row[0].c_str(), row[0].size()), std::string_view(row[1].c_str(), row[1].size()),
               optional_integer(row[2]), optional_integer(row[3]), unit);
  }
  array_literal payloads;
  for (const std::string& p : packer.finish()) payloads.add(p);
  tx.exec_params("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", std::string(jobs_channel),
                 payloads.finish());
}

std::size_t upsert(pqxx::connection& c, std::span<const job_ref> updates) {
  // Prepared once per connection (libpqxx prepares it again after a reconnect).
  c.prepare(upsert_statement, upsert_sql());
  pqxx::work tx{c};
  tx.exec0(staging_sql());
  copy_to_staging(tx, updates);
  pqxx::result written = tx.exec_prepared(upsert_statement);
  if (!written.empty()) notify(tx, written);
  tx.commit();
  return written.size();
}

}  // namespace

std::size_t write_jobs(pqxx::connection& c, std::span<const job_ref> updates) {
  if (updates.empty()) return 0;
  return upsert(c, updates);
}

std::size_t write_jobs(pqxx::connection& c, std::span<const job_update> updates) {
  return write_jobs(c, refs_of(updates));
}

std::vector<rejected_update> write_jobs_one_by_one(pqxx::connection& c, std::span<const job_ref> updates) {
  std::vector<rejected_update> rejected;
  for (const job_ref& r : updates) {
    const job_update& u = *r.update;
    std::exception_ptr failure;
    try {
      upsert(c, std::span(&r, 1));
      continue;
    } catch (...) {
      failure = std::current_exception();
    }
    if (classify(failure) != failure_kind::data) std::rethrow_exception(failure);
    // Keep the state, drop the parts most likely refused (JSON the server
    // cannot store, e.g. a \u0000 escape in jsonb).
    job_update stripped = u;
    stripped.meta.reset();
    stripped.result.reset();
    std::string note = fmt::format("meta/result not stored: {}", describe(failure));
    truncate_utf8(note, 1024);
    stripped.message = stripped.message ? *stripped.message + "; " + note : note;
    try {
      const job_ref stripped_ref{r.task_id, &stripped};
      upsert(c, std::span(&stripped_ref, 1));
      continue;
    } catch (...) {
      failure = std::current_exception();
    }
    if (classify(failure) != failure_kind::data) std::rethrow_exception(failure);
    rejected.push_back({std::string(r.task_id), describe(failure)});
  }
  return rejected;
}

}  // namespace celeriac::pg
