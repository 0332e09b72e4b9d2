#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include "pg/job_query.hpp"
#include "pg/job_store.hpp"
#include "pg/listen.hpp"
#include "pg/migrations.hpp"
#include "pg_test_util.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

pg::job_update update(std::string id, pg::job_state s, std::optional<std::int64_t> done = {},
                      std::optional<std::int64_t> total = {}) {
  pg::job_update u;
  u.task_id = std::move(id);
  u.state = s;
  u.name = "tasks.test";
  u.queue = "celery";
  u.progress_done = done;
  u.progress_total = total;
  return u;
}

void migrate(const std::string& url) {
  pqxx::connection c{url};
  pg::migrate(c);
}

std::size_t count_rows(const std::string& url, const std::string& where = "true") {
  pqxx::connection c{url};
  pqxx::work tx{c};
  return tx.exec1("SELECT count(*) FROM celeriac_jobs WHERE " + where)[0].as<std::size_t>();
}

// Records `jobs` jobs' lifecycles: RECEIVED, STARTED, three PROGRESS, SUCCESS
// (5 + 1 updates per job), with job ids "<prefix>-<n>".
void record_lifecycles(pg::job_store& store, const std::string& prefix, int jobs, int first = 0) {
  for (int i = first; i < first + jobs; ++i) {
    const std::string id = prefix + "-" + std::to_string(i);
    store.record(update(id, pg::job_state::received));
    store.record(update(id, pg::job_state::started));
    for (int p = 1; p <= 3; ++p) store.record(update(id, pg::job_state::progress, p * 25, 100));
    store.record(update(id, pg::job_state::success, 100, 100));
  }
}

}  // namespace

TEST_SUITE("integration") {

TEST_CASE("50k updates for 10k jobs coalesce into a few batches with the right final rows") {
  const auto url = test::fresh_database("store_coalesce");
  migrate(url);
  pg::pool db({.url = url, .connections = 2});
  test::io_thread io;
  // A long interval: all 50k updates land within one (however slow this
  // machine), so the outcome is exact.
  pg::job_store store(io.io().get_executor(), db,
                      {.flush_interval = 60s, .max_batch_rows = 2500, .concurrent_writes = 2});
  store.start();

  // 10k jobs x 5 updates.
  for (int i = 0; i < 10'000; ++i) {
    const std::string id = "job-" + std::to_string(i);
    store.record(update(id, pg::job_state::received));
    store.record(update(id, pg::job_state::started));
    store.record(update(id, pg::job_state::progress, 10, 20));
    store.record(update(id, pg::job_state::progress, 20, 20));
    auto done = update(id, i % 10 == 0 ? pg::job_state::failure : pg::job_state::success, 20, 20);
    if (i % 10 == 0) done.error = "ValueError('bad row')";
    else done.result = std::to_string(i);
    done.meta = json::value(json::object{{"rows_loaded", 20}, {"rows_rejected", i % 3}});
    store.record(std::move(done));
  }
  CHECK(io.run(store.async_flush(30s)));
  auto s = store.stats();
  CHECK(s.recorded == 50'000);
  CHECK(s.pending == 0);
  CHECK(s.batches == 4);              // 10k rows in batches of 2,500...
  CHECK(s.written_rows == 10'000);    // ...one row per job, not per update
  CHECK(s.dropped_nonfinal + s.dropped_final == 0);
  CHECK(io.run(store.async_stop(10s)));

  CHECK(count_rows(url) == 10'000);
  CHECK(count_rows(url, "state = 'SUCCESS' AND progress_done = 20 AND progress_total = 20") == 9'000);
  CHECK(count_rows(url, "state = 'FAILURE' AND error = 'ValueError(''bad row'')' AND result IS NULL") == 1'000);
  CHECK(count_rows(url, "finished_at IS NOT NULL AND started_at IS NOT NULL AND started_at <= finished_at") ==
        10'000);
  pqxx::connection c{url};
  auto row = pg::get_job(c, "job-7");
  REQUIRE(row);
  CHECK(row->result == "7");
  CHECK(row->meta->find("rows_rejected")->as_integer() == 1);
  CHECK(row->name == "tasks.test");
}

TEST_CASE("a late PROGRESS recorded after SUCCESS does not overwrite it") {
  const auto url = test::fresh_database("store_late");
  migrate(url);
  pg::pool db({.url = url, .connections = 1});
  test::io_thread io;
  pg::job_store store(io.io().get_executor(), db, {.flush_interval = 20ms});
  store.start();
  store.record(update("late", pg::job_state::success, 10, 10));
  CHECK(io.run(store.async_flush(10s)));  // the final state lands first...
  store.record(update("late", pg::job_state::progress, 5, 10));
  store.record(update("late-in-buffer", pg::job_state::failure));
  store.record(update("late-in-buffer", pg::job_state::progress, 1, 2));  // ...or meets it in the buffer
  CHECK(io.run(store.async_stop(10s)));
  pqxx::connection c{url};
  auto row = pg::get_job(c, "late");
  CHECK(row->state == pg::job_state::success);
  CHECK(row->progress_done == 10);
  CHECK(pg::get_job(c, "late-in-buffer")->state == pg::job_state::failure);
}

TEST_CASE("job store writes are announced on celeriac_jobs") {
  const auto url = test::fresh_database("store_notify");
  migrate(url);
  pg::listener listen{url};
  pg::pool db({.url = url, .connections = 1});
  test::io_thread io;
  pg::job_store store(io.io().get_executor(), db, {.flush_interval = 20ms});
  store.start();
  record_lifecycles(store, "n", 50);
  CHECK(io.run(store.async_stop(10s)));

  std::map<std::string, pg::job_notification> last;
  for (int i = 0; i < 100; ++i) {
    auto batch = listen.wait(100ms);
    if (batch.empty() && last.size() == 50) break;
    for (const auto& n : batch) {
      auto rows = pg::parse_job_notifications(n.payload);
      REQUIRE_MESSAGE(!rows.empty(), n.payload);
      for (const auto& row : rows) last[row.task_id] = row;
    }
  }
  REQUIRE(last.size() == 50);
  for (const auto& [id, n] : last) {
    CHECK(n.state == pg::job_state::success);
    CHECK(n.progress_done == 100);
    CHECK(n.progress_total == 100);
  }
}

TEST_CASE("updates recorded while PostgreSQL restarts land once it is back; nothing is lost") {
  // synchronous_commit=on: with the fixture's default (off) a kill -9 loses
  // the last commits, as it would on any server configured so.
  test::pg_server server({"-c", "synchronous_commit=on"});
  migrate(server.url());
  pg::pool db({.url = server.url(), .connections = 1, .max_attempts = 2, .backoff_initial = 10ms});
  test::io_thread io;
  pg::job_store store(io.io().get_executor(), db,
                      {.flush_interval = 50ms, .retry_initial = 50ms, .retry_max = 200ms});
  store.start();

  record_lifecycles(store, "before", 500);
  CHECK(io.run(store.async_flush(10s)));
  CHECK(count_rows(server.url(), "state = 'SUCCESS'") == 500);

  SUBCASE("clean shutdown") { server.stop(); }
  SUBCASE("crash") { server.kill9(); }

  // Mid-stream: some jobs start before the outage and finish during it.
  for (int i = 0; i < 300; ++i) store.record(update("during-" + std::to_string(i), pg::job_state::started));
  std::this_thread::sleep_for(300ms);  // the loop tries, fails, buffers
  for (int i = 0; i < 300; ++i)
    store.record(update("during-" + std::to_string(i), pg::job_state::progress, 50, 100));
  record_lifecycles(store, "outage", 700);
  CHECK_FALSE(io.run(store.async_flush(500ms)));  // cannot complete while the server is down
  auto s = store.stats();
  CHECK_FALSE(s.database_ok);
  CHECK(s.failed_writes >= 1);
  CHECK(s.pending == 1000);

  server.restart();
  CHECK(io.run(store.async_flush(30s)));
  for (int i = 0; i < 300; ++i) store.record(update("during-" + std::to_string(i), pg::job_state::success, 100, 100));
  CHECK(io.run(store.async_stop(30s)));
  s = store.stats();
  CHECK(s.database_ok);
  CHECK(s.dropped_nonfinal + s.dropped_final + s.rejected == 0);
  CHECK(count_rows(server.url()) == 1500);
  CHECK(count_rows(server.url(), "state = 'SUCCESS' AND progress_done = 100") == 1500);
}

TEST_CASE("a full buffer during an outage drops old progress, keeps final states, and catches up") {
  test::pg_server server;
  migrate(server.url());
  const auto url = server.url();
  server.stop();
  pg::pool db({.url = url, .connections = 1, .max_attempts = 1});
  test::io_thread io;
  pg::job_store store(io.io().get_executor(), db,
                      {.flush_interval = 20ms, .max_pending = 100, .retry_initial = 20ms, .retry_max = 100ms});
  store.start();
  for (int i = 0; i < 60; ++i) store.record(update("final-" + std::to_string(i), pg::job_state::success, 1, 1));
  for (int i = 0; i < 500; ++i) store.record(update("progress-" + std::to_string(i), pg::job_state::progress, 1, 9));
  auto s = store.stats();
  CHECK(s.pending == 100);
  CHECK(s.dropped_nonfinal == 460);
  CHECK(s.dropped_final == 0);

  server.restart();
  CHECK(io.run(store.async_stop(30s)));
  CHECK(count_rows(url, "state = 'SUCCESS'") == 60);
  CHECK(count_rows(url, "state = 'PROGRESS'") == 40);  // the newest 40
  CHECK(count_rows(url, "task_id = 'progress-499'") == 1);
}

TEST_CASE("the store waits for migrations instead of dropping updates") {
  const auto url = test::fresh_database("store_unmigrated");
  pg::pool db({.url = url, .connections = 1});
  test::io_thread io;
  pg::job_store store(io.io().get_executor(), db, {.flush_interval = 20ms, .retry_initial = 20ms});
  store.start();
  store.record(update("early", pg::job_state::success));
  CHECK_FALSE(io.run(store.async_flush(300ms)));
  CHECK(store.stats().pending == 1);
  migrate(url);
  CHECK(io.run(store.async_stop(10s)));
  CHECK(count_rows(url, "task_id = 'early'") == 1);
  CHECK(store.stats().rejected == 0);
}

TEST_CASE("stopping with the database down gives up after the timeout") {
  test::pg_server server;
  migrate(server.url());
  const auto url = server.url();
  server.stop();
  pg::pool db({.url = url, .connections = 1, .max_attempts = 1});
  test::io_thread io;
  pg::job_store store(io.io().get_executor(), db, {.flush_interval = 20ms, .retry_initial = 20ms});
  store.start();
  store.record(update("lost", pg::job_state::success));
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(io.run(store.async_stop(300ms)));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(store.stats().pending == 1);
}

TEST_CASE("a job reporting progress continuously is written about once per flush interval") {
  const auto url = test::fresh_database("store_rate");
  migrate(url);
  pg::pool db({.url = url, .connections = 2});
  test::io_thread io;
  pg::job_store store(io.io().get_executor(), db, {.flush_interval = 200ms});
  store.start();
  const auto start = std::chrono::steady_clock::now();
  std::int64_t done = 0;
  while (std::chrono::steady_clock::now() - start < 1s) {
    store.record(update("busy", pg::job_state::progress, ++done, 1'000'000'000));
    std::this_thread::sleep_for(100us);
  }
  store.record(update("busy", pg::job_state::success, done, 1'000'000'000));
  CHECK(io.run(store.async_stop(10s)));
  auto s = store.stats();
  INFO("recorded " << s.recorded << ", written " << s.written_rows);
  CHECK(s.recorded > 1000);
  CHECK(s.written_rows <= 8);  // ~5 ticks in 1 s, plus the final write
  pqxx::connection c{url};
  auto row = pg::get_job(c, "busy");
  CHECK(row->state == pg::job_state::success);
  CHECK(row->progress_done == done);
}

}  // TEST_SUITE
