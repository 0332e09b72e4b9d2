// Dashboard statistics, the daily rollup and partition maintenance against
// a real PostgreSQL, each checked against a direct SQL computation written
// differently from the task's.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "app/task_error.hpp"
#include "integration/pg/pg_test_util.hpp"
#include "support/task_db.hpp"
#include "tasks/analytics/analytics_tasks.hpp"
#include "tasks/analytics/dashboard_stats.hpp"
#include "tasks/analytics/partitions.hpp"
#include "tasks/common/task_database.hpp"

using namespace celeriac;
using namespace std::chrono_literals;

namespace {

app::task_registry registry() {
  app::task_registry r;
  tasks::register_analytics_tasks(r);
  return r;
}

json::value run(const std::string& url, const std::string& task, json::object kwargs = {}) {
  return test::call_task(registry(), url, task, {}, std::move(kwargs));
}

std::int64_t count(const std::string& url, const std::string& sql) {
  return test::query(url, sql)[0][0].as<std::int64_t>();
}

std::string text(const std::string& url, const std::string& sql) {
  return test::query(url, sql)[0][0].as<std::string>();
}

std::vector<std::string> strings(const json::value& array) {
  std::vector<std::string> out;
  for (const auto& v : array.as_array()) out.push_back(v.as_string());
  return out;
}

// 5000 rows over 2026-03-01..03: every status, NULL categories and
// confidences, approved rows, rows never updated or never answered.
void fill(const std::string& url) {
  // The arrival trigger would turn rows with a category into mapped
  // uploads; the generated statuses are the point here.
  test::exec_sql(url, R"sql(
ALTER TABLE llm_mappings DISABLE TRIGGER celeriac_llm_mappings_arrival;
INSERT INTO llm_mappings (merchant_name, category, confidence, status, admin_approved, created_at, mapped_at, updated_at)
SELECT 'm' || g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'cat' || (g % 5) END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 100) / 100.0 END,
       (ARRAY['pending', 'mapped', 'approved', 'rejected', 'failed'])[1 + g % 5],
       g % 9 = 0,
       timestamptz '2026-03-01 00:00:00+00' + (g % 3) * interval '1 day' + (g % 1440) * interval '1 minute',
       CASE WHEN g % 6 = 0 THEN NULL
            ELSE timestamptz '2026-03-02 00:00:00+00' + (g % 1441) * interval '1 minute' - interval '1 microsecond' END,
       CASE WHEN g % 4 = 0 THEN NULL
            ELSE timestamptz '2026-03-01 12:00:00+00' + (g % 2000) * interval '1 minute' END
  FROM generate_series(1, 5000) g;
ALTER TABLE llm_mappings ENABLE TRIGGER celeriac_llm_mappings_arrival)sql");
}

}  // namespace

TEST_CASE("dashboard_stats equals separate COUNT queries, and a second run rewrites the same row") {
  const std::string url = test::migrated_app_database("analytics_dash");
  fill(url);
  auto r = run(url, "celeriac.analytics.dashboard_stats");
  auto direct = test::query(url, R"sql(
SELECT (SELECT count(*) FROM llm_mappings), (SELECT count(*) FROM llm_mappings WHERE admin_approved),
       (SELECT count(*) FROM llm_mappings WHERE status = 'pending'), (SELECT count(*) FROM llm_mappings WHERE status = 'mapped'),
       (SELECT count(*) FROM llm_mappings WHERE status = 'failed'), (SELECT avg(confidence) FROM llm_mappings),
       (SELECT count(DISTINCT category) FROM llm_mappings))sql")[0];
  auto row = test::query(url, "SELECT total_mappings, approved_mappings, pending_mappings, mapped_mappings, "
                              "failed_mappings, avg_confidence, unique_categories, last_updated FROM "
                              "dashboard_stats WHERE id = 1")[0];
  const char* names[] = {"total_mappings",  "approved_mappings", "pending_mappings", "mapped_mappings",
                         "failed_mappings", "avg_confidence",    "unique_categories"};
  for (int i : {0, 1, 2, 3, 4, 6}) {
    CAPTURE(names[i]);
    CHECK(row[i].as<std::int64_t>() == direct[i].as<std::int64_t>());
    CHECK(r.find(names[i])->as_integer() == direct[i].as<std::int64_t>());
  }
  CHECK(row[5].as<double>() == doctest::Approx(direct[5].as<double>()).epsilon(1e-12));
  CHECK(r.find("avg_confidence")->as_double() == doctest::Approx(direct[5].as<double>()).epsilon(1e-12));
  // The fill covers what the figures distinguish.
  CHECK(r.find("total_mappings")->as_integer() == 5000);
  CHECK(r.find("unique_categories")->as_integer() == 5);
  CHECK(r.find("approved_mappings")->as_integer() > 0);
  CHECK(r.find("seconds")->is_number());
  CHECK_FALSE(row[7].is_null());

  // Idempotent: the same figures in the same one row; only last_updated moves.
  test::exec_sql(url, "UPDATE dashboard_stats SET last_updated = last_updated - interval '1 hour'");
  const std::string before = text(url, "SELECT last_updated::text FROM dashboard_stats");
  auto again = run(url, "celeriac.analytics.dashboard_stats");
  again.set("seconds", 0);
  r.set("seconds", 0);
  CHECK(again == r);
  CHECK(count(url, "SELECT count(*) FROM dashboard_stats") == 1);
  CHECK(count(url, "SELECT count(*) FROM dashboard_stats WHERE last_updated > '" + before + "'") == 1);

  // New rows show on the next run.
  test::exec_sql(url, "INSERT INTO llm_mappings (merchant_name, category) VALUES ('new', 'a new category')");
  auto more = run(url, "celeriac.analytics.dashboard_stats");
  CHECK(more.find("total_mappings")->as_integer() == 5001);
  CHECK(more.find("unique_categories")->as_integer() == 6);
  CHECK(more.find("mapped_mappings")->as_integer() == direct[3].as<std::int64_t>() + 1);
}

TEST_CASE("dashboard_stats counts categories by walking their index, or by grouping without one") {
  using tasks::analytics::distinct_method;
  const std::string url = test::migrated_app_database("analytics_dash_method");
  fill(url);
  pqxx::connection c{url};
  const auto walked = tasks::analytics::recompute_dashboard_stats(c);
  CHECK(walked.method == distinct_method::index_walk);
  CHECK(walked.unique_categories == count(url, "SELECT count(DISTINCT category) FROM llm_mappings"));

  // A partial index, or one in another collation, orders other rows: not used.
  test::exec_sql(url, "DROP INDEX llm_mappings_category_idx; "
                      "CREATE INDEX partial_category ON llm_mappings (category) WHERE status = 'mapped'; "
                      "CREATE INDEX c_category ON llm_mappings (category COLLATE \"C\")");
  if (text(url, "SELECT datcollate FROM pg_database WHERE datname = current_database()") != "C") {
    const auto grouped = tasks::analytics::recompute_dashboard_stats(c);
    CHECK(grouped.method == distinct_method::grouping);
    CHECK(grouped.total == walked.total);
    CHECK(grouped.approved == walked.approved);
    CHECK(grouped.pending == walked.pending);
    CHECK(grouped.mapped == walked.mapped);
    CHECK(grouped.failed == walked.failed);
    CHECK(grouped.unique_categories == walked.unique_categories);
    CHECK(*grouped.avg_confidence == doctest::Approx(*walked.avg_confidence).epsilon(1e-12));
  }
  test::exec_sql(url, "DROP INDEX c_category");
  const auto grouped = tasks::analytics::recompute_dashboard_stats(c);
  CHECK(grouped.method == distinct_method::grouping);
  CHECK(grouped.unique_categories == walked.unique_categories);
  CHECK(grouped.total == walked.total);
  CHECK(*grouped.avg_confidence == doctest::Approx(*walked.avg_confidence).epsilon(1e-12));

  // Through the task, on an empty table without the index.
  test::exec_sql(url, "TRUNCATE llm_mappings");
  auto r = run(url, "celeriac.analytics.dashboard_stats");
  CHECK(r.find("total_mappings")->as_integer() == 0);
  CHECK(r.find("unique_categories")->as_integer() == 0);
  CHECK(r.find("avg_confidence")->is_null());
}

TEST_CASE("dashboard_stats on an empty table") {
  const std::string url = test::migrated_app_database("analytics_empty");
  auto r = run(url, "celeriac.analytics.dashboard_stats");
  CHECK(r.find("total_mappings")->as_integer() == 0);
  CHECK(r.find("unique_categories")->as_integer() == 0);
  CHECK(r.find("avg_confidence")->is_null());
  CHECK(test::query(url, "SELECT avg_confidence FROM dashboard_stats")[0][0].is_null());
  CHECK_THROWS_AS(test::call_task(registry(), url, "celeriac.analytics.dashboard_stats", {1}), app::task_error);
}

TEST_CASE("daily_rollup equals a direct computation for the UTC day, whatever the session's time zone") {
  const std::string url = test::migrated_app_database("analytics_daily");
  // The task's connection reads and writes timestamps in Auckland time;
  // the day is still the UTC day.
  test::exec_sql(url, "ALTER DATABASE " + text(url, "SELECT quote_ident(current_database())") +
                          " SET timezone = 'Pacific/Auckland'");
  fill(url);
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider, tokens_in, tokens_out, cost_usd) VALUES "
                      "('2026-03-02 00:00+00', 'fake', 100, 20, 0.5), ('2026-03-02 23:59:59.999999+00', 'fake', 1, 2, "
                      "0.25), ('2026-03-02 12:00+00', 'cache', 0, 0, 0), ('2026-03-03 00:00+00', 'fake', 7, 7, 9), "
                      "('2026-03-01 23:59:59+00', 'fake', 5, 5, 5)");
  for (const char* day : {"2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"}) {
    CAPTURE(day);
    auto r = run(url, "celeriac.analytics.daily_rollup", {{"day", day}});
    // The same definitions, spelled as UTC dates instead of ranges.
    const std::string d = std::string("'") + day + "'::date";
    const std::string last_change = "(coalesce(updated_at, mapped_at, created_at) AT TIME ZONE 'UTC')::date = " + d;
    auto direct = test::query(url, "SELECT (SELECT count(*) FROM llm_mappings WHERE (created_at AT TIME ZONE "
                                   "'UTC')::date = " + d + "), (SELECT count(*) FROM llm_mappings WHERE (mapped_at "
                                   "AT TIME ZONE 'UTC')::date = " + d + "), (SELECT count(*) FROM llm_mappings WHERE "
                                   "admin_approved AND " + last_change + "), (SELECT count(*) FROM llm_mappings "
                                   "WHERE status = 'failed' AND " + last_change + "), (SELECT avg(confidence) FROM "
                                   "llm_mappings WHERE (mapped_at AT TIME ZONE 'UTC')::date = " + d + ")")[0];
    CHECK(r.find("day")->as_string() == day);
    CHECK(r.find("created")->as_integer() == direct[0].as<std::int64_t>());
    CHECK(r.find("mapped")->as_integer() == direct[1].as<std::int64_t>());
    CHECK(r.find("approved")->as_integer() == direct[2].as<std::int64_t>());
    CHECK(r.find("failed")->as_integer() == direct[3].as<std::int64_t>());
    if (direct[4].is_null())
      CHECK(r.find("avg_confidence")->is_null());
    else
      CHECK(r.find("avg_confidence")->as_double() == doctest::Approx(direct[4].as<double>()).epsilon(1e-12));
    auto row = test::query(url, std::string("SELECT created, mapped, approved, failed, llm_calls FROM "
                                            "daily_mapping_stats WHERE day = '") + day + "'");
    REQUIRE(row.size() == 1);
    CHECK(row[0][0].as<std::int64_t>() == direct[0].as<std::int64_t>());
    CHECK(row[0][3].as<std::int64_t>() == direct[3].as<std::int64_t>());
  }
  // The fill makes every figure of 2026-03-02 non-trivial.
  auto r = run(url, "celeriac.analytics.daily_rollup", {{"day", "2026-03-02"}});
  for (const char* f : {"created", "mapped", "approved", "failed"}) {
    CAPTURE(f);
    CHECK(r.find(f)->as_integer() > 0);
  }
  // ai_interactions of the day, its first and last microsecond included;
  // cache rows are not calls.
  CHECK(r.find("llm_calls")->as_integer() == 2);
  CHECK(r.find("tokens_in")->as_integer() == 101);
  CHECK(r.find("tokens_out")->as_integer() == 22);
  CHECK(r.find("cost_usd")->as_double() == doctest::Approx(0.75));
  CHECK(count(url, "SELECT llm_calls FROM daily_mapping_stats WHERE day = '2026-03-03'") == 1);

  // Idempotent: the same row again, not a second one; a changed row shows.
  CHECK(count(url, "SELECT count(*) FROM daily_mapping_stats") == 4);
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider, tokens_in) VALUES "
                      "('2026-03-02 06:00+00', 'fake', 1000)");
  auto again = run(url, "celeriac.analytics.daily_rollup", {{"day", "2026-03-02"}});
  CHECK(again.find("llm_calls")->as_integer() == 3);
  CHECK(again.find("tokens_in")->as_integer() == 1101);
  CHECK(count(url, "SELECT count(*) FROM daily_mapping_stats") == 4);
  CHECK(count(url, "SELECT llm_calls FROM daily_mapping_stats WHERE day = '2026-03-02'") == 3);
}

TEST_CASE("daily_rollup: the default day is yesterday in UTC; a bad day is a ValueError") {
  const std::string url = test::migrated_app_database("analytics_daily_default");
  test::exec_sql(url, "ALTER DATABASE " + text(url, "SELECT quote_ident(current_database())") +
                          " SET timezone = 'Pacific/Kiritimati'");  // UTC+14: its "yesterday" is often UTC's today
  test::exec_sql(url, "INSERT INTO llm_mappings (merchant_name, created_at) VALUES "
                      "('y', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 hour')");
  auto r = run(url, "celeriac.analytics.daily_rollup");
  const std::string yesterday = text(url, "SELECT ((now() AT TIME ZONE 'UTC')::date - 1)::text");
  CHECK(r.find("day")->as_string() == yesterday);
  CHECK(r.find("created")->as_integer() == 1);
  CHECK(count(url, "SELECT count(*) FROM daily_mapping_stats WHERE day = '" + yesterday + "'") == 1);
  auto null_day = run(url, "celeriac.analytics.daily_rollup", {{"day", nullptr}});
  CHECK(null_day.find("day")->as_string() == yesterday);

  for (const char* bad : {"2026-13-01", "yesterday", "2026-02-30", "2026-3-1", "'; DROP TABLE x; --", ""}) {
    CAPTURE(bad);
    try {
      run(url, "celeriac.analytics.daily_rollup", {{"day", bad}});
      FAIL("accepted");
    } catch (const app::task_error& e) {
      CHECK(e.exc_type() == "ValueError");
    }
  }
  CHECK_THROWS_AS(run(url, "celeriac.analytics.daily_rollup", {{"day", 20260302}}), app::task_error);
  CHECK(count(url, "SELECT count(*) FROM daily_mapping_stats") == 1);
}

namespace {

// "ai_interactions_YYYY_MM" of this UTC month moved by `months`.
std::string month_name(const std::string& url, int months) {
  return text(url, "SELECT 'ai_interactions_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + "
                   "make_interval(months => " + std::to_string(months) + "), 'YYYY_MM')");
}

// The first instant of this UTC month moved by `months`, plus `extra`.
std::string month_instant(int months, const std::string& extra = "0 seconds") {
  return "(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => " + std::to_string(months) +
         ")) AT TIME ZONE 'UTC' + interval '" + extra + "'";
}

// Creates the partition of this UTC month moved by `months` by hand.
void add_month(const std::string& url, int months) {
  test::exec_sql(url, "CREATE TABLE " + month_name(url, months) + " PARTITION OF ai_interactions FOR VALUES FROM (" +
                          month_instant(months) + ") TO (" + month_instant(months + 1) + ")");
}

std::string home_of(const std::string& url, const std::string& provider) {
  auto r = test::query(url, "SELECT tableoid::regclass::text FROM ai_interactions WHERE provider = '" + provider + "'");
  REQUIRE(r.size() == 1);
  return r[0][0].as<std::string>();
}

bool table_exists(const std::string& url, const std::string& name) {
  return !test::query(url, "SELECT to_regclass('" + name + "')")[0][0].is_null();
}

}  // namespace

TEST_CASE("partitions roll: old months dropped, future ones created, default-partition rows moved home") {
  const std::string url = test::migrated_app_database("analytics_parts");
  test::exec_sql(url, "ALTER DATABASE " + text(url, "SELECT quote_ident(current_database())") +
                          " SET timezone = 'America/Los_Angeles'");
  // The migration made this month and the next two. Old months by hand,
  // and month +2 taken away so that its rows arrive before its partition.
  test::exec_sql(url, "CREATE TABLE ai_interactions_2020_01 PARTITION OF ai_interactions FOR VALUES FROM "
                      "('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00')");
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider) VALUES ('2020-01-15', 'old')");
  add_month(url, -1);
  add_month(url, -2);
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider) VALUES (" + month_instant(-1, "1 day") +
                          ", 'last month')");
  test::exec_sql(url, "DROP TABLE " + month_name(url, 2));
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider, tokens_in) VALUES (" +
                          month_instant(2, "1 day") + ", 'early', 7), (" + month_instant(2) + ", 'first instant', 1), ("
                          + month_instant(3) + ", 'month 3', 1)");
  CHECK(home_of(url, "early") == "ai_interactions_default");
  CHECK(home_of(url, "first instant") == "ai_interactions_default");

  auto r = run(url, "celeriac.maintenance.partitions", {{"months_ahead", 2}, {"retention_months", 1}});
  CHECK(strings(*r.find("created")) == std::vector<std::string>{month_name(url, 2)});
  CHECK(strings(*r.find("dropped")) == std::vector<std::string>{"ai_interactions_2020_01", month_name(url, -2)});
  CHECK(r.find("moved_rows")->as_integer() == 2);
  CHECK(home_of(url, "early") == month_name(url, 2));
  CHECK(home_of(url, "first instant") == month_name(url, 2));
  CHECK(home_of(url, "month 3") == "ai_interactions_default");  // beyond months_ahead: stays
  CHECK(home_of(url, "last month") == month_name(url, -1));    // within retention: kept
  CHECK(count(url, "SELECT tokens_in FROM ai_interactions WHERE provider = 'early'") == 7);
  CHECK(count(url, "SELECT count(*) FROM ai_interactions WHERE provider = 'old'") == 0);
  CHECK_FALSE(table_exists(url, "ai_interactions_2020_01"));
  CHECK_FALSE(table_exists(url, month_name(url, -2)));
  // The new partition is a full one: the parent's indexes, new rows routed to it.
  CHECK(count(url, "SELECT count(*) FROM pg_indexes WHERE tablename = '" + month_name(url, 2) + "'") == 3);
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider) VALUES (" + month_instant(2, "2 days") +
                          ", 'later')");
  CHECK(home_of(url, "later") == month_name(url, 2));

  // Far in the future: still accepted, by the default partition.
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider) VALUES ('2099-01-01', 'future')");
  CHECK(home_of(url, "future") == "ai_interactions_default");

  // A second run finds nothing to do.
  auto again = run(url, "celeriac.maintenance.partitions", {{"months_ahead", 2}, {"retention_months", 1}});
  CHECK(again.find("created")->as_array().empty());
  CHECK(again.find("dropped")->as_array().empty());
  CHECK(again.find("moved_rows")->as_integer() == 0);

  // Further ahead: month 3's row moves too; the defaults keep 13 months.
  auto ahead = run(url, "celeriac.maintenance.partitions", {{"months_ahead", 4}});
  CHECK(strings(*ahead.find("created")) == std::vector<std::string>{month_name(url, 3), month_name(url, 4)});
  CHECK(ahead.find("dropped")->as_array().empty());
  CHECK(ahead.find("moved_rows")->as_integer() == 1);
  CHECK(home_of(url, "month 3") == month_name(url, 3));
  auto defaults = run(url, "celeriac.maintenance.partitions");
  CHECK(defaults.find("created")->as_array().empty());
  CHECK(defaults.find("dropped")->as_array().empty());
}

TEST_CASE("partitions: an application's own partition and names are left alone; bad arguments refused") {
  const std::string url = test::migrated_app_database("analytics_parts_own");
  // The application covers month +3 and +4 with one partition of its own
  // name, and keeps an archive of an old month under another name.
  test::exec_sql(url, "CREATE TABLE ai_interactions_next_quarter PARTITION OF ai_interactions FOR VALUES FROM (" +
                          month_instant(3) + ") TO (" + month_instant(5) + ")");
  test::exec_sql(url, "CREATE TABLE ai_interactions_archive PARTITION OF ai_interactions FOR VALUES FROM "
                      "('2019-01-01 00:00+00') TO ('2019-02-01 00:00+00')");
  auto r = run(url, "celeriac.maintenance.partitions", {{"months_ahead", 5}, {"retention_months", 1}});
  CHECK(strings(*r.find("created")) == std::vector<std::string>{month_name(url, 5)});
  CHECK(r.find("dropped")->as_array().empty());
  CHECK(table_exists(url, "ai_interactions_archive"));

  for (const auto& bad : {json::object{{"months_ahead", -1}}, json::object{{"retention_months", 0}},
                          json::object{{"months_ahead", 5000}}}) {
    try {
      run(url, "celeriac.maintenance.partitions", bad);
      FAIL("accepted");
    } catch (const app::task_error& e) {
      CHECK(e.exc_type() == "ValueError");
    }
  }
  CHECK_THROWS_AS(run(url, "celeriac.maintenance.partitions", {{"months_ahead", "3"}}), app::task_error);
  CHECK_THROWS_AS(run(url, "celeriac.maintenance.partitions", {{"weeks", 3}}), app::task_error);
}

TEST_CASE("partitions: the app tables in a schema of their own, found on the search path") {
  const std::string url = test::fresh_database("analytics_parts_schema");
  {
    pqxx::connection c{url};
    pg::migrate(c, pg::migrate_options{.with_app_tables = true, .app_schema = "AppData"});
  }
  test::exec_sql(url, "ALTER DATABASE " + text(url, "SELECT quote_ident(current_database())") +
                          " SET search_path = \"AppData\", public");
  test::exec_sql(url, "DROP TABLE " + month_name(url, 1));
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider) VALUES (" + month_instant(1, "1 hour") +
                          ", 'x')");
  auto r = run(url, "celeriac.maintenance.partitions", {{"months_ahead", 1}});
  CHECK(strings(*r.find("created")) == std::vector<std::string>{month_name(url, 1)});
  CHECK(r.find("moved_rows")->as_integer() == 1);
  CHECK(text(url, "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = '" +
                      month_name(url, 1) + "'") == "AppData");
  CHECK(home_of(url, "x") == month_name(url, 1));

  // Without the app tables on the path: a clear failure, not a retry.
  test::exec_sql(url, "ALTER DATABASE " + text(url, "SELECT quote_ident(current_database())") +
                          " SET search_path = public");
  tasks::close_idle_task_connections();  // the next task connects anew, with the new search_path
  CHECK_THROWS_WITH(run(url, "celeriac.maintenance.partitions"), doctest::Contains("no partitioned table ai_interactions"));
}

TEST_CASE("partitions: concurrent runs queue on the advisory lock; a locked table means a retry, not a wait") {
  const std::string url = test::migrated_app_database("analytics_parts_lock");
  test::exec_sql(url, "DROP TABLE " + month_name(url, 1));
  test::exec_sql(url, "DROP TABLE " + month_name(url, 2));

  // Two runs at once: one creates both months, the other finds them there.
  test::use_database(url);
  const app::task_registry reg = registry();
  json::value first, second;
  std::string first_error, second_error;
  auto runner = [&](json::value& out, std::string& error) {
    return std::thread([&reg, out = &out, error = &error] {
      try {
        *out = test::run_task(reg, "celeriac.maintenance.partitions", {}, {{"months_ahead", 2}});
      } catch (const std::exception& e) {
        *error = e.what();
      }
    });
  };
  std::thread a = runner(first, first_error), b = runner(second, second_error);
  a.join();
  b.join();
  CHECK(first_error == "");
  CHECK(second_error == "");
  REQUIRE(first.is_object());
  REQUIRE(second.is_object());
  auto created = strings(*first.find("created")), created2 = strings(*second.find("created"));
  created.insert(created.end(), created2.begin(), created2.end());
  CHECK(created == std::vector<std::string>{month_name(url, 1), month_name(url, 2)});

  // A session reading ai_interactions holds the default partition against
  // ATTACH: the run gives up after its lock_timeout and leaves nothing behind.
  test::exec_sql(url, "DROP TABLE " + month_name(url, 2));
  pqxx::connection reader{url};
  pqxx::work reading{reader};
  reading.exec("SELECT count(*) FROM ai_interactions");
  {
    pqxx::connection c{url};
    tasks::analytics::partition_options o;
    o.months_ahead = 2;
    o.lock_timeout = 200ms;
    try {
      tasks::analytics::maintain_partitions(c, o);
      FAIL("no lock timeout");
    } catch (const pqxx::sql_error& e) {
      CHECK(e.sqlstate() == tasks::analytics::lock_not_available);
    }
  }
  CHECK_FALSE(table_exists(url, month_name(url, 2)));
  // Through the task (its own 10 s lock_timeout): a retry request.
  CHECK_THROWS_AS(test::run_task(reg, "celeriac.maintenance.partitions", {}, {{"months_ahead", 2}}),
                  app::retry_request);
  reading.commit();
  auto r = test::run_task(reg, "celeriac.maintenance.partitions", {}, {{"months_ahead", 2}});
  CHECK(strings(*r.find("created")) == std::vector<std::string>{month_name(url, 2)});
}
