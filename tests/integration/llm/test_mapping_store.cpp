// The LLM family's SQL (tasks/llm/mapping_store) against a real
// PostgreSQL: concurrent claimers take disjoint rows, leases end, only the
// claim holder writes, one reservation per name, the cache's rules.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <pqxx/pqxx>

#include "support/task_db.hpp"
#include "tasks/llm/mapping_store.hpp"

using namespace celeriac;
using namespace celeriac::tasks::llm;
using namespace std::chrono_literals;

namespace {

void exec(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction tx{c};
  tx.exec(sql);
}

std::int64_t scalar(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction tx{c};
  return tx.exec1(sql)[0].as<std::int64_t>();
}

void insert_pending(pqxx::connection& c, int n) {
  exec(c, "INSERT INTO llm_mappings (merchant_name) SELECT 'shop ' || g FROM generate_series(1, " +
              std::to_string(n) + ") g");
}

row_outcome mapped(std::int64_t id, const std::string& key, const std::string& category) {
  row_outcome o;
  o.id = id;
  o.key = key;
  o.mapped = true;
  o.category = category;
  o.confidence = 0.9;
  o.source = "llm";
  o.provider = "p";
  o.model = "m";
  return o;
}

}  // namespace

TEST_CASE("concurrent claimers take disjoint rows and together take every row") {
  const std::string url = test::migrated_app_database("llm_claims");
  {
    pqxx::connection c{url};
    insert_pending(c, 3000);
  }
  constexpr int claimers = 4;
  std::vector<std::vector<std::int64_t>> got(claimers);
  std::vector<std::thread> threads;
  for (int i = 0; i < claimers; ++i) {
    threads.emplace_back([&, i] {
      pqxx::connection c{url};
      const std::string token = "t" + std::to_string(i);
      while (true) {
        auto rows = claim_pending(c, token, 37, 60s);
        if (rows.empty()) break;
        for (const auto& r : rows) got[i].push_back(r.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::int64_t> all;
  std::size_t total = 0;
  for (const auto& ids : got) {
    total += ids.size();
    all.insert(ids.begin(), ids.end());
  }
  CHECK(total == 3000);
  CHECK(all.size() == 3000);
}

TEST_CASE("a claim holds rows until its lease ends; only the holder writes") {
  const std::string url = test::migrated_app_database("llm_lease");
  pqxx::connection c{url};
  insert_pending(c, 5);
  auto first = claim_pending(c, "dead-worker", 10, 1000ms);
  REQUIRE(first.size() == 5);
  CHECK(first[0].attempts == 1);
  CHECK(claim_pending(c, "other", 10, 60s).empty());

  std::this_thread::sleep_for(1200ms);
  auto second = claim_pending(c, "live-worker", 10, 60s);
  REQUIRE(second.size() == 5);
  CHECK(second[0].attempts == 2);

  // The first holder comes back from a stall: its writes are refused.
  write_batch late;
  late.rows.push_back(mapped(first[0].id, "shop", "Stale"));
  CHECK(write_results(c, "dead-worker", late) == 0);
  write_batch now;
  now.rows.push_back(mapped(second[0].id, "shop", "Fresh"));
  CHECK(write_results(c, "live-worker", now) == 1);
  CHECK(scalar(c, "SELECT count(*) FROM llm_mappings WHERE category = 'Fresh' AND status = 'mapped' AND "
                  "claimed_by IS NULL AND mapped_at IS NOT NULL") == 1);
  CHECK(scalar(c, "SELECT count(*) FROM llm_mappings WHERE category = 'Stale'") == 0);

  // Deferred rows come back after the delay, without counting an attempt.
  std::vector<std::int64_t> ids;
  for (std::size_t i = 1; i < second.size(); ++i) ids.push_back(second[i].id);
  defer_rows(c, ids, "live-worker", 500ms);
  CHECK(claim_pending(c, "x", 10, 60s).empty());
  std::this_thread::sleep_for(700ms);
  auto third = claim_pending(c, "x", 10, 60s);
  CHECK(third.size() == 4);
  CHECK(third[0].attempts == 2);
}

TEST_CASE("rows that arrive answered, or with another status, are never claimed") {
  const std::string url = test::migrated_app_database("llm_skip");
  pqxx::connection c{url};
  exec(c, "INSERT INTO llm_mappings (merchant_name, category) VALUES ('uploaded', 'Shopping')");
  exec(c, "INSERT INTO llm_mappings (merchant_name, status) VALUES ('done', 'approved'), ('bad', 'failed')");
  insert_pending(c, 1);
  auto rows = claim_pending(c, "t", 10, 60s);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].merchant_name == "shop 1");
  CHECK(count_pending(c) == 1);  // the claimed row waits for its answer; the others never count
}

TEST_CASE("a name is reserved by one holder at a time; an expired reservation is taken over") {
  const std::string url = test::migrated_app_database("llm_reserve");
  pqxx::connection c{url};
  auto a = reserve_names(c, {"starbucks", "uber", "starbucks"}, "A", 1000ms);
  CHECK(a == std::vector<std::string>{"starbucks", "uber"});
  auto b = reserve_names(c, {"starbucks", "walmart"}, "B", 60s);
  CHECK(b == std::vector<std::string>{"walmart"});
  release_names(c, {"uber"}, "B");  // not B's: stays
  CHECK(reserve_names(c, {"uber"}, "B", 60s).empty());
  release_names(c, {"uber"}, "A");
  CHECK(reserve_names(c, {"uber"}, "B", 60s) == std::vector<std::string>{"uber"});
  std::this_thread::sleep_for(1200ms);
  CHECK(reserve_names(c, {"starbucks"}, "B", 60s) == std::vector<std::string>{"starbucks"});
}

TEST_CASE("the cache: approved rows are never overwritten; heuristics never replace a model") {
  const std::string url = test::migrated_app_database("llm_cache");
  pqxx::connection c{url};
  exec(c, "INSERT INTO merchant_mappings (merchant_key, category, confidence, source, admin_approved) VALUES "
          "('costco', 'Groceries', 1.0, 'admin', true)");
  write_batch w;
  w.answers.push_back(model_answer{"costco", "Shopping", std::string("COST"), 0.8, "llm", "p", "m"});
  w.answers.push_back(model_answer{"uber", "Transportation", std::string("UBER"), 0.9, "llm", "p", "m"});
  write_results(c, "t", w);
  write_batch h;
  h.answers.push_back(model_answer{"uber", "Other", std::nullopt, 0.1, "heuristic", "heuristic", "heuristic"});
  h.answers.push_back(model_answer{"lyft", "Transportation", std::string("LYFT"), 0.75, "heuristic", "heuristic",
                                   "heuristic"});
  write_results(c, "t", h);

  auto hits = lookup_exact(c, {"costco", "uber", "lyft", "nothing"}, true);
  REQUIRE(hits.size() == 3);
  std::map<std::string, cached_answer> by;
  for (auto& a : hits) by[a.key] = a;
  CHECK(by["costco"].category == "Groceries");
  CHECK(by["costco"].admin_approved);
  CHECK(by["uber"].category == "Transportation");
  CHECK(by["uber"].source == "llm");
  CHECK(by["lyft"].source == "heuristic");
  // With a model configured, heuristic answers are misses (the model replaces them).
  CHECK(lookup_exact(c, {"lyft"}, false).empty());

  write_batch counted;
  counted.hits = {{"uber", 3}, {"costco", 1}, {"uber", 2}};
  write_results(c, "t", counted);
  CHECK(scalar(c, "SELECT hit_count FROM merchant_mappings WHERE merchant_key = 'uber'") == 5);

  if (near_matches_available(c)) {
    exec(c, "INSERT INTO merchant_mappings (merchant_key, category, confidence, source) VALUES "
            "('blue bottle coffee roasters', 'Food & Drink', 0.95, 'llm'), ('vague name here', 'Other', 0.5, 'llm')");
    auto found = lookup_near(c, {"blue bottle coffee roaster", "vague name her", "zzz"}, 0.85, 0.9, 5000ms);
    REQUIRE(found);
    auto& near = *found;
    REQUIRE(near.size() == 1);
    CHECK(near[0].key == "blue bottle coffee roaster");
    CHECK(near[0].matched_key == "blue bottle coffee roasters");
    CHECK(near[0].similarity >= 0.85);
    CHECK(near[0].similarity < 1.0);
    // Over budget: abandoned, not an error.
    exec(c, "INSERT INTO merchant_mappings (merchant_key, category, confidence, source) SELECT 'common prefix ' || "
            "md5(g::text), 'Other', 0.95, 'llm' FROM generate_series(1, 20000) g");
    std::vector<std::string> many;
    for (int i = 0; i < 300; ++i) many.push_back("common prefix name " + std::to_string(i));
    CHECK_FALSE(lookup_near(c, many, 0.85, 0.9, 1ms));
  } else {
    MESSAGE("pg_trgm is not installed on this server: near matches not tested");
  }
}

TEST_CASE("interactions land in the month's partition, any month in the default one") {
  const std::string url = test::migrated_app_database("llm_interactions");
  pqxx::connection c{url};
  write_batch w;
  interaction i;
  i.job_id = "job-1";
  i.provider = "fake";
  i.model = "m";
  i.merchants = 25;
  i.tokens_in = 1'000'000;
  i.tokens_out = 2000;
  i.latency_ms = 101.5;
  i.cost_usd = 0.000015;
  i.http_status = 200;
  w.interactions.push_back(i);
  i.http_status.reset();
  i.error = "timed out";
  w.interactions.push_back(i);
  write_results(c, "t", w);
  pqxx::nontransaction tx{c};
  auto rows = tx.exec("SELECT tableoid::regclass::text, tokens_in, http_status, error, cost_usd::text FROM "
                      "ai_interactions ORDER BY id");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0].as<std::string>().rfind("ai_interactions_2", 0) == 0);
  CHECK(rows[0][1].as<std::int64_t>() == 1'000'000);
  CHECK(rows[0][2].as<int>() == 200);
  CHECK(rows[1][2].is_null());
  CHECK(rows[1][3].as<std::string>() == "timed out");
  CHECK(rows[0][4].as<std::string>() == "0.00001500");
  tx.exec("INSERT INTO ai_interactions (created_at, provider) VALUES ('2099-01-01', 'x')");
  CHECK(tx.exec1("SELECT tableoid::regclass::text FROM ai_interactions WHERE provider = 'x'")[0].as<std::string>() ==
        "ai_interactions_default");
}
