// celeriac.views.refresh and refresh_all against a real PostgreSQL: modes,
// refused names, coalescing of concurrent requests, timeouts, a view
// dropped while waiting, dependency order.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

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

json::value refresh(const std::string& url, json::object kwargs, json::array args = {}) {
  return test::call_task(registry(), url, "celeriac.views.refresh", std::move(args), std::move(kwargs));
}

std::string mode_of(const json::value& r) { return r.find("mode")->as_string(); }

// The documented key of a view's refresh lock, spelled out independently
// of the code under test: pg_advisory_lock(x'63656C76'::int, oid::int).
std::string lock_key_sql(const std::string& view) {
  return "x'63656C76'::int, '" + view + "'::regclass::oid::int";
}

// Holds a view's refresh lock from another session until released, or
// for at most a minute, so that a test whose timeout does not work fails
// instead of hanging.
class lock_holder {
public:
  lock_holder(const std::string& url, const std::string& view) {
    std::promise<void> locked;
    auto is_locked = locked.get_future();
    thread_ = std::thread([this, url, view, locked = std::move(locked)]() mutable {
      try {
        pqxx::connection c{url};
        pqxx::nontransaction tx{c};
        tx.exec("SELECT pg_advisory_lock(" + lock_key_sql(view) + ")");
        locked.set_value();
        release_.get_future().wait_for(60s);
        tx.exec("SELECT pg_advisory_unlock(" + lock_key_sql(view) + ")");
      } catch (...) {
        try {
          locked.set_exception(std::current_exception());
        } catch (const std::future_error&) {  // already locked: the session's end unlocks
        }
      }
    });
    try {
      is_locked.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  void release() {
    if (!thread_.joinable()) return;
    release_.set_value();
    thread_.join();
  }
  ~lock_holder() { release(); }

private:
  std::promise<void> release_;
  std::thread thread_;
};

// Whether another session could take the view's refresh lock now (and
// gives it back at once): false means someone still holds it.
bool lock_is_free(const std::string& url, const std::string& view) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  const bool got = tx.exec1("SELECT pg_try_advisory_lock(" + lock_key_sql(view) + ")")[0].as<bool>();
  if (got) tx.exec("SELECT pg_advisory_unlock(" + lock_key_sql(view) + ")");
  return got;
}

}  // namespace

TEST_CASE("refresh: concurrently with a unique index, plain otherwise; rows counted") {
  const std::string url = test::migrated_app_database("views_modes");
  test::exec_sql(url, "INSERT INTO llm_mappings (merchant_name, category, confidence) SELECT 'shop ' || (g % 10), "
                      "'Shopping', 0.5 FROM generate_series(1, 100) g");
  CHECK(test::query(url, "SELECT count(*) FROM merchant_stats")[0][0].as<int>() == 0);
  auto r = refresh(url, {{"view", "merchant_stats"}});
  CHECK(mode_of(r) == "concurrently");
  CHECK(r.find("view")->as_string() == "public.merchant_stats");
  CHECK(r.find("rows")->as_integer() == 10);
  CHECK(r.find("seconds")->as_double() >= 0);
  CHECK(test::query(url, "SELECT sum(rows) FROM merchant_stats")[0][0].as<int>() == 100);
  CHECK(test::query(url, "SELECT rows FROM merchant_stats WHERE merchant_key = 'shop 3'")[0][0].as<int>() == 10);
  CHECK(test::query(url, "SELECT last_mode FROM celeriac_view_refreshes")[0][0].as<std::string>() == "concurrently");

  SUBCASE("concurrently=false, or no usable unique index: plain") {
    CHECK(mode_of(refresh(url, {{"view", "merchant_stats"}, {"concurrently", false}})) == "plain");
    test::exec_sql(url, "CREATE MATERIALIZED VIEW no_index AS SELECT 1 AS x");
    CHECK(mode_of(refresh(url, {{"view", "no_index"}})) == "plain");
    test::exec_sql(url, "CREATE MATERIALIZED VIEW partial_index AS SELECT 1 AS x; "
                        "CREATE UNIQUE INDEX ON partial_index (x) WHERE x > 0");
    CHECK(mode_of(refresh(url, {{"view", "partial_index"}})) == "plain");
    test::exec_sql(url, "CREATE MATERIALIZED VIEW expression_index AS SELECT 1 AS x; "
                        "CREATE UNIQUE INDEX ON expression_index ((x + 1))");
    CHECK(mode_of(refresh(url, {{"view", "expression_index"}})) == "plain");
  }
  SUBCASE("a view never populated gets a plain refresh, then concurrent ones") {
    test::exec_sql(url, "CREATE MATERIALIZED VIEW never_filled AS SELECT 1 AS x WITH NO DATA; "
                        "CREATE UNIQUE INDEX ON never_filled (x)");
    auto filled = refresh(url, {{"view", "never_filled"}});
    CHECK(mode_of(filled) == "plain");
    CHECK(filled.find("rows")->as_integer() == 1);
    CHECK(mode_of(refresh(url, {{"view", "never_filled"}})) == "concurrently");
  }
  SUBCASE("schema-qualified, off the search path, quoted mixed case, positional") {
    test::exec_sql(url, "CREATE SCHEMA elsewhere; CREATE MATERIALIZED VIEW elsewhere.stats AS SELECT 2 AS y");
    auto q = refresh(url, {{"view", "elsewhere.stats"}});
    CHECK(q.find("view")->as_string() == "elsewhere.stats");
    CHECK(q.find("rows")->as_integer() == 1);
    CHECK(refresh(url, {{"view", "public.merchant_stats"}}).find("view")->as_string() == "public.merchant_stats");

    test::exec_sql(url, "CREATE SCHEMA \"Odd Schema\"; "
                        "CREATE MATERIALIZED VIEW \"Odd Schema\".\"Mixed \"\"View\"\"\" AS SELECT 3 AS z");
    auto odd = refresh(url, {{"view", "\"Odd Schema\".\"Mixed \"\"View\"\"\""}});
    CHECK(odd.find("view")->as_string() == "Odd Schema.Mixed \"View\"");
    CHECK(odd.find("rows")->as_integer() == 1);
    CHECK(refresh(url, {}, {"MERCHANT_STATS"}).find("view")->as_string() == "public.merchant_stats");
  }
}

TEST_CASE("refresh: anything but a materialized view is refused, and nothing is run") {
  const std::string url = test::migrated_app_database("views_refused");
  test::exec_sql(url, "CREATE VIEW plain_view AS SELECT 1 AS x; CREATE SCHEMA elsewhere");
  for (const char* bad : {"llm_mappings", "plain_view", "no_such_view", "merchant_stats; DROP TABLE llm_mappings",
                          "merchant_stats\"; DROP TABLE llm_mappings; --", "", "elsewhere.merchant_stats",
                          "\"merchant_stats", "\"Merchant_Stats\"", "a.b.c.d", "otherdb.public.merchant_stats",
                          "no_schema.merchant_stats"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(refresh(url, {{"view", bad}}), doctest::Contains("is not a materialized view"),
                         app::task_error);
  }
  try {
    refresh(url, {{"view", "llm_mappings"}});
    FAIL("a table was accepted as a materialized view");
  } catch (const app::task_error& e) {
    CHECK(e.exc_type() == "ValueError");
  }
  CHECK_THROWS_AS(refresh(url, {{"view", 42}}), app::argument_error);
  CHECK_THROWS_AS(refresh(url, {{"view", json::value()}}), app::argument_error);
  CHECK_THROWS_AS(refresh(url, {}), app::argument_error);
  CHECK_THROWS_AS(refresh(url, {{"view", "merchant_stats"}, {"concurrently", "yes"}}), app::argument_error);
  CHECK_THROWS_WITH_AS(refresh(url, {{"view", "merchant_stats"}, {"lock_timeout", -1}}),
                       doctest::Contains("lock_timeout must be more than 0"), app::task_error);
  CHECK(test::query(url, "SELECT to_regclass('llm_mappings') IS NOT NULL")[0][0].as<bool>());
  CHECK(test::query(url, "SELECT count(*) FROM celeriac_view_refreshes")[0][0].as<int>() == 0);
}

TEST_CASE("20 requests at once run at most two refreshes; the rest coalesce") {
  const std::string url = test::migrated_app_database("views_coalesce");
  // Each refresh takes a sequence number, so refreshes can be counted, and
  // takes 0.5 s, so the requests really overlap.
  test::exec_sql(url, "CREATE SEQUENCE refresh_count; CREATE MATERIALIZED VIEW slow_view AS SELECT "
                      "nextval('refresh_count') AS n, (SELECT 1 FROM pg_sleep(0.5)) AS s; "
                      "CREATE UNIQUE INDEX ON slow_view (n)");
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
  const auto gens = test::query(url, "SELECT requested_gen, started_gen, completed_gen FROM celeriac_view_refreshes");
  CHECK(gens[0][0].as<int>() == n);
  CHECK(gens[0][2].as<int>() == n);  // the last refresh covered every request
  CHECK(lock_is_free(url, "slow_view"));
}

TEST_CASE("a request that arrives after a refresh completed refreshes again") {
  const std::string url = test::migrated_app_database("views_sequential");
  test::exec_sql(url, "CREATE SEQUENCE refresh_count; CREATE MATERIALIZED VIEW counted AS SELECT "
                      "nextval('refresh_count') AS n; CREATE UNIQUE INDEX ON counted (n)");
  for (int i = 0; i < 3; ++i) CHECK(mode_of(refresh(url, {{"view", "counted"}})) == "concurrently");
  CHECK(test::query(url, "SELECT last_value FROM refresh_count")[0][0].as<int>() == 4);
}

TEST_CASE("lock_timeout: a view locked elsewhere fails with a TimeoutError naming the view and the timeout") {
  const std::string url = test::migrated_app_database("views_lock_timeout");
  lock_holder holder(url, "merchant_stats");
  try {
    refresh(url, {{"view", "merchant_stats"}, {"lock_timeout", 0.2}});
    FAIL("the refresh went ahead although another session held the view's lock");
  } catch (const app::task_error& e) {
    CHECK(e.exc_type() == "TimeoutError");
    CHECK(std::string(e.what()).find("public.merchant_stats") != std::string::npos);
    CHECK(std::string(e.what()).find("lock_timeout 0.2s") != std::string::npos);
  }
  holder.release();
  // The failed call left no lock_timeout behind on its session.
  CHECK(mode_of(refresh(url, {{"view", "merchant_stats"}})) == "concurrently");
  CHECK(test::query(url, "SELECT completed_gen FROM celeriac_view_refreshes")[0][0].as<int>() == 2);
}

TEST_CASE("statement_timeout: a refresh that runs too long fails, and the lock is released") {
  const std::string url = test::migrated_app_database("views_statement_timeout");
  test::exec_sql(url, "CREATE MATERIALIZED VIEW slow AS SELECT 1 AS x, (SELECT 1 FROM pg_sleep(30)) AS s "
                      "WITH NO DATA");
  try {
    refresh(url, {{"view", "slow"}, {"statement_timeout", 0.2}});
    FAIL("a 30 s refresh finished within a 0.2 s statement_timeout");
  } catch (const app::task_error& e) {
    CHECK(e.exc_type() == "TimeoutError");
    CHECK(std::string(e.what()).find("public.slow") != std::string::npos);
    CHECK(std::string(e.what()).find("statement_timeout 0.2s") != std::string::npos);
  }
  CHECK(lock_is_free(url, "slow"));
  CHECK_FALSE(test::query(url, "SELECT relispopulated FROM pg_class WHERE oid = 'slow'::regclass")[0][0].as<bool>());
  const auto gens = test::query(url, "SELECT started_gen, completed_gen FROM celeriac_view_refreshes");
  CHECK(gens[0][0].as<int>() == 1);
  CHECK(gens[0][1].as<int>() == 0);
}

TEST_CASE("a view dropped while its request waits for the lock is a ValueError") {
  const std::string url = test::migrated_app_database("views_dropped");
  test::exec_sql(url, "CREATE MATERIALIZED VIEW doomed AS SELECT 1 AS x");
  lock_holder holder(url, "doomed");
  test::use_database(url);
  const auto tasks = registry();
  std::string error;
  std::thread waiting([&] {
    try {
      test::run_task(tasks, "celeriac.views.refresh", {}, {{"view", "doomed"}});
    } catch (const app::task_error& e) {
      error = e.exc_type() + ": " + e.what();
    }
  });
  // Wait (up to a minute) until the request waits for the lock.
  for (int i = 0; i < 3000; ++i) {
    if (test::query(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")[0][0].as<int>())
      break;
    std::this_thread::sleep_for(20ms);
  }
  test::exec_sql(url, "DROP MATERIALIZED VIEW doomed");
  holder.release();
  waiting.join();
  CHECK(error.find("ValueError") == 0);
  CHECK(error.find("public.doomed was dropped") != std::string::npos);
}

TEST_CASE("refresh_all: celeriac's views, each after the views it reads") {
  const std::string url = test::migrated_app_database("views_all");
  test::exec_sql(url, "INSERT INTO llm_mappings (merchant_name, category, confidence) VALUES ('a', 'x', 0.5)");
  // Named to sort before merchant_stats, so only the dependency puts them after it.
  test::exec_sql(url, "CREATE MATERIALIZED VIEW a_top_merchants AS SELECT merchant_key, rows FROM merchant_stats "
                      "ORDER BY rows DESC LIMIT 10; CREATE UNIQUE INDEX ON a_top_merchants (merchant_key); "
                      "COMMENT ON MATERIALIZED VIEW a_top_merchants IS 'celeriac: test view built on merchant_stats'");
  // Reads merchant_stats through a plain view (and sorts first of all).
  test::exec_sql(url, "CREATE VIEW busy_merchants AS SELECT merchant_key FROM merchant_stats WHERE rows > 0; "
                      "CREATE MATERIALIZED VIEW a0_busy AS SELECT count(*) AS n FROM busy_merchants; "
                      "COMMENT ON MATERIALIZED VIEW a0_busy IS 'celeriac: test view reading through a plain view'");
  test::exec_sql(url, "CREATE MATERIALIZED VIEW not_ours AS SELECT 1 AS x; "
                      "COMMENT ON MATERIALIZED VIEW not_ours IS 'an application view, celeriac: not at the start'");

  std::vector<app::progress_report> reports;
  test::use_database(url);
  const auto tasks = registry();
  app::task_request request;
  request.id = "refresh-all";
  request.name = "celeriac.views.refresh_all";
  const std::atomic<bool> never{false};
  app::task_context ctx(
      std::move(request), [&](const app::task_request&, const app::progress_report& p) { reports.push_back(p); },
      &never);
  const auto r = tasks.find("celeriac.views.refresh_all")->fn(ctx, {}, {});

  std::vector<std::string> order;
  for (const auto& v : r.find("views")->as_array()) order.push_back(v.find("view")->as_string());
  REQUIRE(order.size() == 4);
  auto pos = [&](const std::string& name) { return std::find(order.begin(), order.end(), name) - order.begin(); };
  CHECK(pos("public.merchant_stats") < pos("public.a_top_merchants"));
  CHECK(pos("public.merchant_stats") < pos("public.a0_busy"));
  CHECK(pos("public.llm_analytics_summary") < 4);
  CHECK(pos("public.not_ours") == 4);
  // The dependents saw merchant_stats' new contents.
  CHECK(test::query(url, "SELECT count(*) FROM a_top_merchants")[0][0].as<int>() == 1);
  CHECK(test::query(url, "SELECT n FROM a0_busy")[0][0].as<int>() == 1);
  CHECK(r.find("seconds")->as_double() >= 0);
  REQUIRE(!reports.empty());
  CHECK(reports.back().done == 4);
  CHECK(reports.back().total == 4);
  CHECK(reports.back().unit == "views");
}
