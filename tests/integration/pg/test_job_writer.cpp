#include <doctest/doctest.h>

#include <map>
#include <random>

#include <fmt/format.h>

#include <pqxx/pqxx>

#include "pg/job_query.hpp"
#include "pg/job_writer.hpp"
#include "pg/pool.hpp"
#include "pg/listen.hpp"
#include "pg/migrations.hpp"
#include "pg_test_util.hpp"

using namespace celeriac;
using namespace std::chrono_literals;

namespace {

std::string migrated_database(const std::string& prefix) {
  auto url = test::fresh_database(prefix);
  pqxx::connection c{url};
  pg::migrate(c);
  return url;
}

pg::job_update make(std::string id, pg::job_state s, int attempts = 1, std::optional<std::int64_t> done = {}) {
  pg::job_update u;
  u.task_id = std::move(id);
  u.state = s;
  u.attempts = attempts;
  u.progress_done = done;
  pg::normalize(u, util::wall_now());
  return u;
}

void write(pqxx::connection& c, std::vector<pg::job_update> batch) { pg::write_jobs(c, batch); }

}  // namespace

TEST_SUITE("integration") {

TEST_CASE("write_jobs upserts a batch and get_job/list_jobs read it back") {
  pqxx::connection c{migrated_database("writer_basic")};
  auto a = make("a", pg::job_state::progress, 1, 40);
  a.name = "tasks.csv_import";
  a.queue = "csv";
  a.progress_total = 100;
  a.progress_unit = "rows";
  a.meta = json::value(json::object{{"rows_loaded", 40}, {"rows_rejected", 2}});
  a.message = "chunk 4";
  a.worker = "celeriac@host";
  auto b = make("b", pg::job_state::success);
  b.result = R"({"answer": 42})";
  CHECK(pg::write_jobs(c, std::vector{a, b}) == 2);

  auto row = pg::get_job(c, "a");
  REQUIRE(row);
  CHECK(row->state == pg::job_state::progress);
  CHECK(row->name == "tasks.csv_import");
  CHECK(row->queue == "csv");
  CHECK(row->progress_done == 40);
  CHECK(row->progress_total == 100);
  CHECK(row->progress_unit == "rows");
  REQUIRE(row->meta);
  CHECK(row->meta->find("rows_rejected")->as_integer() == 2);
  CHECK(row->message == "chunk 4");
  CHECK(row->worker == "celeriac@host");
  CHECK(row->attempts == 1);
  CHECK(row->started_at);
  CHECK_FALSE(row->finished_at);
  CHECK(row->created_at == a.created_at);

  auto done = pg::get_job(c, "b");
  REQUIRE(done);
  CHECK(done->result == R"({"answer": 42})");
  CHECK(done->finished_at);
  CHECK_FALSE(pg::get_job(c, "missing"));

  CHECK(pg::list_jobs(c).size() == 2);
  auto finished = pg::list_jobs(c, {.state = pg::job_state::success, .limit = 10});
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].task_id == "b");
  CHECK(pg::list_jobs(c, {.limit = 1}).size() == 1);
  CHECK(pg::write_jobs(c, std::vector<pg::job_update>{}) == 0);
}

TEST_CASE("a late PROGRESS never overwrites a final state, and repeating a write changes nothing") {
  pqxx::connection c{migrated_database("writer_rules")};
  write(c, {make("t", pg::job_state::progress, 1, 50)});
  auto ok = make("t", pg::job_state::success, 1, 100);
  ok.result = "7";
  write(c, {ok});
  write(c, {make("t", pg::job_state::progress, 1, 60)});  // late
  write(c, {make("t", pg::job_state::started, 1)});       // later still
  auto row = pg::get_job(c, "t");
  REQUIRE(row);
  CHECK(row->state == pg::job_state::success);
  CHECK(row->progress_done == 100);
  CHECK(row->result == "7");

  // The in-doubt case: the same batch committed twice.
  auto before = *row;
  write(c, {ok});
  write(c, {ok});
  row = pg::get_job(c, "t");
  CHECK(row->state == before.state);
  CHECK(row->progress_done == before.progress_done);
  CHECK(row->finished_at == before.finished_at);
  CHECK(row->attempts == before.attempts);
}

TEST_CASE("progress never goes backwards within an attempt; a redelivery starts again") {
  pqxx::connection c{migrated_database("writer_progress")};
  write(c, {make("t", pg::job_state::progress, 1, 70)});
  write(c, {make("t", pg::job_state::progress, 1, 30)});
  CHECK(pg::get_job(c, "t")->progress_done == 70);
  write(c, {make("t", pg::job_state::started, 2, 0)});
  auto row = pg::get_job(c, "t");
  CHECK(row->state == pg::job_state::started);
  CHECK(row->attempts == 2);
  CHECK(row->progress_done == 0);
  write(c, {make("t", pg::job_state::retry, 1)});  // stale attempt
  CHECK(pg::get_job(c, "t")->state == pg::job_state::started);
}

TEST_CASE("the SQL upsert applies the same rules as merge_into (randomised)") {
  pqxx::connection c{migrated_database("writer_differential")};
  std::mt19937 rng(20240611);
  const pg::job_state states[] = {pg::job_state::received, pg::job_state::started, pg::job_state::progress,
                                  pg::job_state::retry,    pg::job_state::success, pg::job_state::failure,
                                  pg::job_state::revoked};
  auto maybe = [&](auto value) -> std::optional<decltype(value)> {
    if (rng() % 3 == 0) return std::nullopt;
    return value;
  };
  for (int seq = 0; seq < 150; ++seq) {
    const std::string id = "job-" + std::to_string(seq);
    std::optional<pg::job_update> expected;
    for (int step = 0; step < 8; ++step) {
      auto u = make(id, states[rng() % 7], 1 + static_cast<int>(rng() % 3),
                    maybe(static_cast<std::int64_t>(rng() % 100)));
      u.progress_total = maybe(std::int64_t{100});
      u.message = maybe("m" + std::to_string(step));
      u.error = maybe("e" + std::to_string(step));
      u.result = maybe(std::to_string(step));
      write(c, {u});
      if (!expected) {
        expected = u;
      } else {
        pg::merge_into(*expected, pg::job_update(u));
      }
    }
    auto row = pg::get_job(c, id);
    REQUIRE(row);
    INFO("task " << id);
    CHECK(row->state == expected->state);
    CHECK(row->attempts == expected->attempts);
    CHECK(row->progress_done == expected->progress_done);
    CHECK(row->progress_total == expected->progress_total);
    CHECK(row->message == expected->message);
    CHECK(row->error == expected->error);
    CHECK(row->result == expected->result);
    CHECK(row->created_at == expected->created_at);
    CHECK(row->started_at == expected->started_at);
    CHECK(row->finished_at == expected->finished_at);
  }
}

TEST_CASE("each write notifies celeriac_jobs with the rows as written") {
  const auto url = migrated_database("writer_notify");
  pg::listener listen{url};
  pqxx::connection c{url};
  auto p = make("n1", pg::job_state::progress, 1, 5);
  p.progress_total = 10;
  p.progress_unit = "rows";
  write(c, {p, make("n2", pg::job_state::success)});
  write(c, {make("n1", pg::job_state::progress, 1, 3)});  // late: the payload shows the stored 5

  std::vector<pg::job_notification> seen;
  std::size_t payloads = 0;
  for (int i = 0; i < 50 && seen.size() < 3; ++i)
    for (const auto& n : listen.wait(100ms)) {
      CHECK(n.channel == "celeriac_jobs");
      auto rows = pg::parse_job_notifications(n.payload);
      REQUIRE_MESSAGE(!rows.empty(), n.payload);
      seen.insert(seen.end(), rows.begin(), rows.end());
      ++payloads;
    }
  REQUIRE(seen.size() == 3);
  CHECK(payloads == 2);  // one per write: the first carries both rows
  auto find = [&](const std::string& id) {
    std::vector<pg::job_notification> out;
    for (const auto& n : seen)
      if (n.task_id == id) out.push_back(n);
    return out;
  };
  auto n1 = find("n1");
  REQUIRE(n1.size() == 2);
  CHECK(n1[0].state == pg::job_state::progress);
  CHECK(n1[0].progress_done == 5);
  CHECK(n1[0].progress_total == 10);
  CHECK(n1[0].progress_unit == "rows");
  CHECK(n1[1].progress_done == 5);
  auto n2 = find("n2");
  REQUIRE(n2.size() == 1);
  CHECK(n2[0].state == pg::job_state::success);
  CHECK(listen.wait(50ms).empty());
}

TEST_CASE("a large batch is announced in a few payloads that name every row once") {
  const auto url = migrated_database("writer_notify_many");
  pg::listener listen{url};
  pqxx::connection c{url};
  constexpr int rows = 3000;
  std::vector<pg::job_update> batch;
  for (int i = 0; i < rows; ++i) {
    // Ids of every length up to the limit, with characters JSON escapes.
    auto u = make(fmt::format("{:0>{}}\"\t\u00e9", i, 1 + i % 240), pg::job_state::progress, 1, i);
    u.progress_total = rows;
    u.progress_unit = std::string(64, i % 2 ? '\n' : 'u');
    batch.push_back(std::move(u));
  }
  CHECK(pg::write_jobs(c, batch) == rows);

  std::map<std::string, pg::job_notification> seen;
  std::size_t payloads = 0, duplicates = 0;
  for (int i = 0; i < 100 && seen.size() < rows; ++i)
    for (const auto& n : listen.wait(100ms)) {
      CHECK(n.payload.size() < 8000);
      ++payloads;
      for (auto& row : pg::parse_job_notifications(n.payload)) {
        std::string id = row.task_id;
        duplicates += !seen.emplace(std::move(id), std::move(row)).second;
      }
    }
  REQUIRE(seen.size() == rows);
  CHECK(duplicates == 0);
  CHECK(payloads < rows / 10);
  for (const auto& u : batch) {
    auto it = seen.find(u.task_id);
    REQUIRE(it != seen.end());
    CHECK(it->second.state == pg::job_state::progress);
    CHECK(it->second.progress_done == u.progress_done);
    CHECK(it->second.progress_total == rows);
    CHECK(it->second.progress_unit == u.progress_unit);
  }
}

TEST_CASE("data the server refuses costs the batch its meta/result, not its states") {
  pqxx::connection c{migrated_database("writer_refused")};
  auto good = make("good", pg::job_state::success);
  auto bad = make("bad", pg::job_state::success);
  bad.result = R"({"text": "nul \u0000 inside"})";  // valid JSON that jsonb refuses
  auto broken = make("broken", pg::job_state::failure);
  broken.result = "{not json";
  std::vector batch{bad, broken, good};
  std::exception_ptr failure;
  try {
    pg::write_jobs(c, batch);
  } catch (...) {
    failure = std::current_exception();
  }
  REQUIRE(failure);
  CHECK(pg::classify(failure) == pg::failure_kind::data);

  auto rejected = pg::write_jobs_one_by_one(c, pg::refs_of(batch));
  CHECK(rejected.empty());
  CHECK(pg::get_job(c, "good")->state == pg::job_state::success);
  auto row = pg::get_job(c, "bad");
  REQUIRE(row);
  CHECK(row->state == pg::job_state::success);
  CHECK_FALSE(row->result);
  REQUIRE(row->message);
  CHECK(row->message->find("not stored") != std::string::npos);
  CHECK(pg::get_job(c, "broken")->state == pg::job_state::failure);
}

}  // TEST_SUITE
