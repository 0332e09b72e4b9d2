// Dashboard statistics, the daily rollup and partition maintenance against
// a real PostgreSQL, each checked against a direct SQL computation.
#include <doctest/doctest.h>

#include <thread>

#include "app/task_error.hpp"
#include "support/task_db.hpp"
#include "tasks/analytics/analytics_tasks.hpp"

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

// Rows of every status, nulls, approved rows, several days.
void fill(const std::string& url) {
  test::exec_sql(url, R"sql(
INSERT INTO llm_mappings (merchant_name, category, confidence, status, admin_approved, created_at, mapped_at, updated_at)
SELECT 'm' || g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'cat' || (g % 5) END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 100) / 100.0 END,
       (ARRAY['pending', 'mapped', 'approved', 'rejected', 'failed'])[1 + g % 5],
       g % 9 = 0,
       timestamptz '2026-03-01 00:00:00+00' + (g % 3) * interval '1 day' + (g % 1440) * interval '1 minute',
       timestamptz '2026-03-02 00:00:00+00' + (g % 1440) * interval '1 minute',
       timestamptz '2026-03-02 00:00:00+00' + (g % 2000) * interval '1 minute'
  FROM generate_series(1, 5000) g)sql");
  // The trigger marks rows that arrive with a category as mapped uploads;
  // put the generated statuses back so every status is represented.
  test::exec_sql(url, "UPDATE llm_mappings SET status = (ARRAY['pending', 'mapped', 'approved', 'rejected', "
                      "'failed'])[1 + substr(merchant_name, 2)::int % 5]");
}

}  // namespace

TEST_CASE("dashboard_stats equals a direct computation, and is idempotent") {
  const std::string url = test::migrated_app_database("analytics_dash");
  fill(url);
  auto r = run(url, "celeriac.analytics.dashboard_stats");
  auto direct = test::query(url, R"sql(
SELECT (SELECT count(*) FROM llm_mappings), (SELECT count(*) FROM llm_mappings WHERE admin_approved),
       (SELECT count(*) FROM llm_mappings WHERE status = 'pending'), (SELECT count(*) FROM llm_mappings WHERE status = 'mapped'),
       (SELECT count(*) FROM llm_mappings WHERE status = 'failed'), (SELECT avg(confidence) FROM llm_mappings),
       (SELECT count(DISTINCT category) FROM llm_mappings))sql")[0];
  auto row = test::query(url, "SELECT total_mappings, approved_mappings, pending_mappings, mapped_mappings, "
                              "failed_mappings, avg_confidence, unique_categories, last_updated::text FROM "
                              "dashboard_stats WHERE id = 1")[0];
  for (int i : {0, 1, 2, 3, 4, 6}) CHECK(row[i].as<std::int64_t>() == direct[i].as<std::int64_t>());
  CHECK(row[5].as<double>() == doctest::Approx(direct[5].as<double>()).epsilon(1e-12));
  CHECK(r.find("total_mappings")->as_integer() == 5000);
  CHECK(r.find("unique_categories")->as_integer() == 5);

  std::this_thread::sleep_for(20ms);
  run(url, "celeriac.analytics.dashboard_stats");
  auto again = test::query(url, "SELECT total_mappings, last_updated::text FROM dashboard_stats")[0];
  CHECK(again[0].as<std::int64_t>() == 5000);
  CHECK(again[1].as<std::string>() != row[7].as<std::string>());
  CHECK(test::query(url, "SELECT count(*) FROM dashboard_stats")[0][0].as<int>() == 1);
}

TEST_CASE("dashboard_stats on an empty table") {
  const std::string url = test::migrated_app_database("analytics_empty");
  auto r = run(url, "celeriac.analytics.dashboard_stats");
  CHECK(r.find("total_mappings")->as_integer() == 0);
  CHECK(r.find("avg_confidence")->is_null());
}

TEST_CASE("daily_rollup equals a direct computation for the day") {
  const std::string url = test::migrated_app_database("analytics_daily");
  fill(url);
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider, tokens_in, tokens_out, cost_usd) VALUES "
                      "('2026-03-02 10:00+00', 'fake', 100, 20, 0.5), ('2026-03-02 23:59+00', 'fake', 1, 2, 0.25), "
                      "('2026-03-02 12:00+00', 'cache', 0, 0, 0), ('2026-03-03 00:00+00', 'fake', 7, 7, 9)");
  auto r = run(url, "celeriac.analytics.daily_rollup", {{"day", "2026-03-02"}});
  auto direct = test::query(url, R"sql(
SELECT (SELECT count(*) FROM llm_mappings WHERE created_at >= '2026-03-02 00:00+00' AND created_at < '2026-03-03 00:00+00'),
       (SELECT count(*) FROM llm_mappings WHERE mapped_at >= '2026-03-02 00:00+00' AND mapped_at < '2026-03-03 00:00+00'),
       (SELECT count(*) FROM llm_mappings WHERE admin_approved AND updated_at >= '2026-03-02 00:00+00'
                                            AND updated_at < '2026-03-03 00:00+00'),
       (SELECT count(*) FROM llm_mappings WHERE status = 'failed' AND updated_at >= '2026-03-02 00:00+00'
                                            AND updated_at < '2026-03-03 00:00+00'),
       (SELECT avg(confidence) FROM llm_mappings WHERE mapped_at >= '2026-03-02 00:00+00' AND mapped_at < '2026-03-03 00:00+00'))sql")[0];
  CHECK(r.find("day")->as_string() == "2026-03-02");
  CHECK(r.find("created")->as_integer() == direct[0].as<std::int64_t>());
  CHECK(r.find("mapped")->as_integer() == direct[1].as<std::int64_t>());
  CHECK(r.find("approved")->as_integer() == direct[2].as<std::int64_t>());
  CHECK(r.find("failed")->as_integer() == direct[3].as<std::int64_t>());
  CHECK(r.find("avg_confidence")->as_double() == doctest::Approx(direct[4].as<double>()).epsilon(1e-12));
  CHECK(r.find("created")->as_integer() > 0);
  CHECK(r.find("llm_calls")->as_integer() == 2);
  CHECK(r.find("tokens_in")->as_integer() == 101);
  CHECK(r.find("tokens_out")->as_integer() == 22);
  CHECK(r.find("cost_usd")->as_double() == doctest::Approx(0.75));

  // Idempotent: the same row, not a second one.
  run(url, "celeriac.analytics.daily_rollup", {{"day", "2026-03-02"}});
  CHECK(test::query(url, "SELECT count(*), max(llm_calls) FROM daily_mapping_stats")[0][0].as<int>() == 1);
  CHECK(test::query(url, "SELECT llm_calls FROM daily_mapping_stats WHERE day = '2026-03-02'")[0][0].as<int>() == 2);

  // The default day is yesterday in UTC.
  auto y = run(url, "celeriac.analytics.daily_rollup");
  CHECK(y.find("day")->as_string() ==
        test::query(url, "SELECT ((now() AT TIME ZONE 'UTC')::date - 1)::text")[0][0].as<std::string>());

  for (const char* bad : {"2026-13-01", "yesterday", "2026-02-30", "'; DROP TABLE x; --"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(run(url, "celeriac.analytics.daily_rollup", {{"day", bad}}), app::task_error);
  }
}

TEST_CASE("partitions roll: future months created, old ones dropped, default-partition rows moved") {
  const std::string url = test::migrated_app_database("analytics_parts");
  test::exec_sql(url, "CREATE TABLE ai_interactions_2020_01 PARTITION OF ai_interactions FOR VALUES FROM "
                      "('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00')");
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider) VALUES ('2020-01-15', 'old')");
  // A row for a month with no partition yet lands in the default one.
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider) VALUES "
                      "(date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '4 months 1 day', "
                      "'early')");
  CHECK(test::query(url, "SELECT tableoid::regclass::text FROM ai_interactions WHERE provider = 'early'")[0][0]
            .as<std::string>() == "ai_interactions_default");

  auto r = run(url, "celeriac.maintenance.partitions", {{"months_ahead", 5}, {"retention_months", 1}});
  std::vector<std::string> created, dropped;
  for (const auto& v : r.find("created")->as_array()) created.push_back(v.as_string());
  for (const auto& v : r.find("dropped")->as_array()) dropped.push_back(v.as_string());
  CHECK(created.size() == 3);  // months 3, 4 and 5 ahead; 0..2 came with the migration
  CHECK(dropped == std::vector<std::string>{"ai_interactions_2020_01"});
  CHECK(r.find("moved_rows")->as_integer() == 1);
  const auto home = test::query(url, "SELECT tableoid::regclass::text FROM ai_interactions WHERE provider = 'early'");
  REQUIRE(home.size() == 1);
  CHECK(home[0][0].as<std::string>() != "ai_interactions_default");
  CHECK(test::query(url, "SELECT count(*) FROM ai_interactions WHERE provider = 'old'")[0][0].as<int>() == 0);

  // Far in the future: still accepted, by the default partition.
  test::exec_sql(url, "INSERT INTO ai_interactions (created_at, provider) VALUES ('2099-01-01', 'future')");
  // A second run changes nothing.
  auto again = run(url, "celeriac.maintenance.partitions", {{"months_ahead", 5}, {"retention_months", 1}});
  CHECK(again.find("created")->as_array().empty());
  CHECK(again.find("dropped")->as_array().empty());
}
