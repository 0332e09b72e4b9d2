// celeriac.views.refresh and refresh_all against a real PostgreSQL: modes,
// refused names, coalescing of concurrent requests, timeouts, dependency
// order.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "app/task_error.hpp"
#include "support/task_db.hpp"
#include "tasks/views/views_tasks.hpp"

using namespace celeriac;
using namespace std::chrono_literals;

namespace {

app::task_registry registry() {
  app::task_registry r;
  tasks::register_views_tasks(r);
  return r;
}

json::value refresh(const std::string& url, json::object kwargs) {
  return test::call_task(registry(), url, "celeriac.views.refresh", {}, std::move(kwargs));
}

std::string mode_of(const json::value& r) { return r.find("mode")->as_string(); }

}  // namespace

TEST_CASE("refresh: concurrently with a unique index, plain otherwise; rows counted") {
  const std::string url = test::migrated_app_database("views_modes");
  test::exec_sql(url, "INSERT INTO llm_mappings (merchant_name, category, confidence) SELECT 'shop ' || (g % 10), "
                      "'Shopping', 0.5 FROM generate_series(1, 100) g");
  auto r = refresh(url, {{"view", "merchant_stats"}});
  CHECK(mode_of(r) == "concurrently");
  CHECK(r.find("view")->as_string() == "public.merchant_stats");
  CHECK(r.find("rows")->as_integer() == 10);
  CHECK(test::query(url, "SELECT sum(rows) FROM merchant_stats")[0][0].as<int>() == 100);

  CHECK(mode_of(refresh(url, {{"view", "merchant_stats"}, {"concurrently", false}})) == "plain");
  test::exec_sql(url, "CREATE MATERIALIZED VIEW no_index AS SELECT 1 AS x");
  CHECK(mode_of(refresh(url, {{"view", "no_index"}})) == "plain");
  test::exec_sql(url, "CREATE MATERIALIZED VIEW never_filled AS SELECT 1 AS x WITH NO DATA");
  test::exec_sql(url, "CREATE UNIQUE INDEX ON never_filled (x)");
  auto filled = refresh(url, {{"view", "never_filled"}});
  CHECK(mode_of(filled) == "plain");
  CHECK(filled.find("rows")->as_integer() == 1);

  test::exec_sql(url, "CREATE SCHEMA elsewhere; CREATE MATERIALIZED VIEW elsewhere.stats AS SELECT 2 AS y");
  auto q = refresh(url, {{"view", "elsewhere.stats"}});
  CHECK(q.find("view")->as_string() == "elsewhere.stats");
}

TEST_CASE("refresh: anything but a materialized view is refused, and nothing is run") {
  const std::string url = test::migrated_app_database("views_refused");
  test::exec_sql(url, "CREATE VIEW plain_view AS SELECT 1 AS x");
  for (const char* bad : {"llm_mappings", "plain_view", "no_such_view", "merchant_stats; DROP TABLE llm_mappings",
                          "", "elsewhere.merchant_stats", "\"merchant_stats"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(refresh(url, {{"view", bad}}), doctest::Contains("is not a materialized view"),
                         app::task_error);
  }
  CHECK_THROWS_AS(refresh(url, {{"view", 42}}), app::argument_error);
  CHECK_THROWS_AS(refresh(url, {}), app::argument_error);
  CHECK(test::query(url, "SELECT to_regclass('llm_mappings') IS NOT NULL")[0][0].as<bool>());
}

TEST_CASE("20 requests at once run at most two refreshes; the rest coalesce") {
  const std::string url = test::migrated_app_database("views_coalesce");
  // Each refresh takes a sequence number, so refreshes can be counted, and
  // takes 0.5 s, so the requests really overlap.
  test::exec_sql(url, "CREATE SEQUENCE refresh_count; CREATE MATERIALIZED VIEW slow_view AS SELECT "
                      "nextval('refresh_count') AS n, (SELECT 1 FROM pg_sleep(0.5)) AS s; CREATE UNIQUE INDEX ON slow_view (n)");
  const auto before = test::query(url, "SELECT last_value FROM refresh_count")[0][0].as<int>();
  test::use_database(url);
  const auto tasks = registry();
  constexpr int n = 20;
  std::vector<std::string> modes(n), errors(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        modes[i] = mode_of(test::run_task(tasks, "celeriac.views.refresh", {}, {{"view", "slow_view"}}));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  int refreshed = 0, coalesced = 0;
  for (int i = 0; i < n; ++i) {
    CHECK_MESSAGE(errors[i].empty(), errors[i]);
    (modes[i] == "coalesced" ? coalesced : refreshed) += 1;
  }
  const auto after = test::query(url, "SELECT last_value FROM refresh_count")[0][0].as<int>();
  CHECK(after - before <= 2);
  CHECK(refreshed == after - before);
  CHECK(refreshed >= 1);
  CHECK(coalesced == n - refreshed);
}

TEST_CASE("lock_timeout: a view locked elsewhere fails fast with a clear error") {
  const std::string url = test::migrated_app_database("views_timeout");
  pqxx::connection holder{url};
  pqxx::nontransaction tx{holder};
  const auto oid = tx.exec1("SELECT 'merchant_stats'::regclass::oid::bigint")[0].as<std::int64_t>();
  tx.exec_params("SELECT pg_advisory_lock($1)", (std::int64_t{0x63656C76} << 32) | oid);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(refresh(url, {{"view", "merchant_stats"}, {"lock_timeout", 0.2}}),
                       doctest::Contains("lock_timeout 0.2s"), app::task_error);
  CHECK(std::chrono::steady_clock::now() - start < 30s);
  tx.exec_params("SELECT pg_advisory_unlock($1)", (std::int64_t{0x63656C76} << 32) | oid);
  CHECK(mode_of(refresh(url, {{"view", "merchant_stats"}, {"lock_timeout", 5}})) == "concurrently");
}

TEST_CASE("refresh_all: celeriac's views, each after the views it reads") {
  const std::string url = test::migrated_app_database("views_all");
  test::exec_sql(url, "CREATE MATERIALIZED VIEW a_top_merchants AS SELECT merchant_key, rows FROM merchant_stats "
                      "ORDER BY rows DESC LIMIT 10; CREATE UNIQUE INDEX ON a_top_merchants (merchant_key); "
                      "COMMENT ON MATERIALIZED VIEW a_top_merchants IS 'celeriac: test view built on merchant_stats'");
  test::exec_sql(url, "CREATE MATERIALIZED VIEW not_ours AS SELECT 1 AS x");
  auto r = test::call_task(registry(), url, "celeriac.views.refresh_all");
  std::vector<std::string> order;
  for (const auto& v : r.find("views")->as_array()) order.push_back(v.find("view")->as_string());
  REQUIRE(order.size() == 3);
  auto pos = [&](const std::string& name) { return std::find(order.begin(), order.end(), name) - order.begin(); };
  CHECK(pos("public.merchant_stats") < pos("public.a_top_merchants"));
  CHECK(pos("public.llm_analytics_summary") < 3);
  CHECK(std::find(order.begin(), order.end(), "public.not_ours") == order.end());
}
