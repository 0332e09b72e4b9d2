// worker::job_store_sink: the lifecycle a worker child reports lands in
// celeriac_jobs (every state, progress, attempts), and a database that is
// away never blocks the caller.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <pqxx/pqxx>

#include "json/parse.hpp"
#include "pg/job_query.hpp"
#include "pg/migrations.hpp"
#include "support/pg_server.hpp"
#include "worker/job_store_sink.hpp"

using namespace celeriac;

namespace {

std::string migrated(const std::string& prefix) {
  static std::atomic<int> n{0};
  const std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  {
    pqxx::connection admin{test::shared_pg_server().url()};
    pqxx::nontransaction tx{admin};
    tx.exec("CREATE DATABASE " + tx.quote_name(name));
  }
  const std::string url = test::shared_pg_server().url(name);
  pqxx::connection c{url};
  pg::migrate(c);
  return url;
}

class io_thread {
public:
  io_thread() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~io_thread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }

private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

celery::task_message message(const std::string& id, std::int64_t retries = 0, bool redelivered = false) {
  celery::task_message m;
  m.headers.id = id;
  m.headers.task = "tests.job";
  m.headers.retries = retries;
  if (redelivered) m.properties.delivery_info.extra.emplace_back("redelivered", true);
  return m;
}

bool stop(io_thread& io, worker::job_store_sink& sink, std::chrono::milliseconds limit) {
  return boost::asio::co_spawn(io.io(), sink.async_stop(limit), boost::asio::use_future).get();
}

}  // namespace

TEST_CASE("attempts come from the message") {
  CHECK(worker::attempts_of(0, false) == 1);
  CHECK(worker::attempts_of(2, false) == 3);
  CHECK(worker::attempts_of(2, true) == 4);
  CHECK(worker::attempts_of(-5, false) == 1);
  const worker::job_labels labels{"tests.job", "q", "w"};
  auto u = worker::lifecycle_update(message("x", 1, true), "SUCCESS", json::object{{"n", 1}}, "", labels);
  REQUIRE(u);
  CHECK(u->attempts == 3);
  CHECK(u->result == std::optional<std::string>(R"({"n": 1})"));
  CHECK(u->queue == std::optional<std::string>("q"));
  CHECK_FALSE(worker::lifecycle_update(message("x"), "PENDING", nullptr, "", labels));
  auto r = worker::lifecycle_update(message("x"), "REVOKED", nullptr, "expired", labels);
  app::task_request redelivered;
  redelivered.id = "x";
  redelivered.retries = 1;
  redelivered.redelivered = true;
  auto s = worker::started_update(redelivered);
  CHECK(s.state == pg::job_state::started);
  CHECK(s.attempts == 3);
  CHECK_FALSE(s.name);
  CHECK(r->message == std::optional<std::string>("revoked: expired"));
  CHECK_FALSE(r->error);
}

TEST_SUITE("integration") {

TEST_CASE("every lifecycle state and progress land in celeriac_jobs") {
  const std::string url = migrated("sink_states");
  io_thread io;
  worker::job_store_sink sink(io.io().get_executor(), url, "w@test");
  sink.start();
  json::value null;

  app::task_request req;
  req.id = "ok";
  req.name = "tests.job";
  req.queue = "celery";
  req.worker = "w@test";
  sink.record(message("ok"), "celery", "RECEIVED", null, "");
  sink.started(req);  // as the executor thread reports it
  for (int i = 1; i <= 1000; ++i)
    sink.progress(req, app::progress_report{i, 1000, "rows", json::object{{"rows_loaded", i}}});
  sink.record(message("ok"), "celery", "SUCCESS", json::object{{"rows", 1000}}, "");

  sink.record(message("again"), "celery", "RECEIVED", null, "");
  sink.record(message("again"), "celery", "STARTED", null, "");
  sink.record(message("again"), "celery", "RETRY", null, "database away");
  sink.record(message("fail"), "celery", "FAILURE", null, "RuntimeError: boom");
  sink.record(message("old"), "celery", "REVOKED", null, "expired");
  sink.record(message("lost", 0, true), "celery", "STARTED", null, "");
  CHECK(stop(io, sink, std::chrono::seconds(10)));

  pqxx::connection c{url};
  auto ok = pg::get_job(c, "ok");
  REQUIRE(ok);
  CHECK(ok->state == pg::job_state::success);
  CHECK(ok->progress_done == 1000);
  CHECK(ok->progress_total == 1000);
  CHECK(ok->progress_unit == std::optional<std::string>("rows"));
  CHECK(ok->result == std::optional<std::string>(R"({"rows": 1000})"));
  CHECK(ok->worker == std::optional<std::string>("w@test"));
  CHECK(ok->name == std::optional<std::string>("tests.job"));
  CHECK(ok->started_at);
  CHECK(ok->finished_at);
  CHECK(pg::get_job(c, "again")->state == pg::job_state::retry);
  CHECK(pg::get_job(c, "again")->error == std::optional<std::string>("database away"));
  CHECK(pg::get_job(c, "fail")->state == pg::job_state::failure);
  CHECK(pg::get_job(c, "old")->state == pg::job_state::revoked);
  CHECK(pg::get_job(c, "lost")->attempts == 2);
  // A thousand progress reports coalesced into a few writes.
  CHECK(sink.stats().written_rows < 50);
}

TEST_CASE("a retried attempt replaces the RETRY row and its progress starts over") {
  const std::string url = migrated("sink_retry");
  io_thread io;
  worker::job_store_sink sink(io.io().get_executor(), url, "w@test");
  sink.start();
  app::task_request req;
  req.id = "r";
  req.name = "tests.job";
  sink.progress(req, app::progress_report{800, 1000, "rows", {}});
  sink.record(message("r"), "celery", "RETRY", nullptr, "later");
  CHECK(boost::asio::co_spawn(io.io(), [&]() -> boost::asio::awaitable<bool> {
          const bool ok = co_await sink.async_stop(std::chrono::seconds(10));
          co_return ok;
        }, boost::asio::use_future).get());
  io_thread io2;
  worker::job_store_sink second(io2.io().get_executor(), url, "w@test");
  second.start();
  req.retries = 1;
  second.progress(req, app::progress_report{100, 1000, "rows", {}});
  CHECK(stop(io2, second, std::chrono::seconds(10)));
  pqxx::connection c{url};
  auto r = pg::get_job(c, "r");
  CHECK(r->state == pg::job_state::progress);
  CHECK(r->attempts == 2);
  CHECK(r->progress_done == 100);
}

TEST_CASE("PostgreSQL away: recording never blocks; a bounded stop gives up") {
  io_thread io;
  worker::job_store_sink sink(io.io().get_executor(), "postgresql://postgres@127.0.0.1:1/none", "w@test");
  sink.start();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20'000; ++i) sink.record(message("id-" + std::to_string(i)), "celery", "SUCCESS", nullptr, "");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK(sink.stats().pending == 20'000);
  const auto t1 = std::chrono::steady_clock::now();
  CHECK_FALSE(stop(io, sink, std::chrono::milliseconds(800)));
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(8));
}

}  // TEST_SUITE
