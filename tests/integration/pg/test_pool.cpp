#include <doctest/doctest.h>

#include <atomic>
#include <chrono>

#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pqxx/pqxx>

#include "pg/pool.hpp"
#include "pg_test_util.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

int backend_pid(pqxx::connection& c) {
  pqxx::work tx{c};
  int pid = tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  tx.commit();
  return pid;
}

void terminate_backend(const std::string& url, int pid) {
  pqxx::connection admin{url};
  pqxx::work tx{admin};
  tx.exec_params("SELECT pg_terminate_backend($1)", pid);
  tx.commit();
  // Wait until the backend is really gone, so the pool's next use sees it.
  for (int i = 0; i < 200; ++i) {
    pqxx::work check{admin};
    if (check.exec_params("SELECT 1 FROM pg_stat_activity WHERE pid = $1", pid).empty()) return;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

TEST_SUITE("integration") {

TEST_CASE("pool::run and async_run return results and propagate SQL errors unchanged") {
  pg::pool db({.url = test::shared_pg_server().url(), .connections = 2});
  CHECK(db.run([](pqxx::connection& c) {
    pqxx::work tx{c};
    return tx.exec_params1("SELECT $1::int + 1", 41)[0].as<int>();
  }) == 42);

  test::io_thread io;
  int calls = 0;
  auto value = io.run([&]() -> asio::awaitable<std::string> {
    co_return co_await db.async_run([&](pqxx::connection& c) {
      ++calls;
      pqxx::work tx{c};
      return tx.exec_params1("SELECT upper($1)", std::string("celeriac"))[0].as<std::string>();
    });
  });
  CHECK(value == "CELERIAC");
  CHECK(calls == 1);

  calls = 0;
  CHECK_THROWS_AS(io.run([&]() -> asio::awaitable<void> {
    co_await db.async_run([&](pqxx::connection& c) {
      ++calls;
      pqxx::work tx{c};
      tx.exec("SELECT * FROM no_such_table");
    });
  }),
                  pqxx::undefined_table);
  CHECK(calls == 1);  // not a connection problem: no retry

  // A closure owning its captures (named first: see the g++ 12 note in
  // pool.hpp) is destroyed exactly once.
  auto owned = std::make_shared<std::string>("owned");
  CHECK(io.run([&]() -> asio::awaitable<std::size_t> {
    auto query = [owned](pqxx::connection& c) {
      pqxx::work tx{c};
      return tx.exec_params1("SELECT length($1)", *owned)[0].as<std::size_t>();
    };
    co_return co_await db.async_run(std::move(query));
  }) == 5);
  CHECK(owned.use_count() == 1);

  db.run([](pqxx::connection& c) {  // void results work too
    pqxx::work tx{c};
    tx.exec("SELECT 1");
    tx.commit();
  });
}

TEST_CASE("pool calls run off the io_context thread and do not block it") {
  pg::pool db({.url = test::shared_pg_server().url(), .connections = 1});
  test::io_thread io;
  std::atomic<int> ticks{0};
  auto elapsed = io.run([&]() -> asio::awaitable<std::chrono::milliseconds> {
    auto ex = co_await asio::this_coro::executor;
    // A ticker on the same io_context keeps running during the query.
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer t(co_await asio::this_coro::executor);
          for (int i = 0; i < 5; ++i) {
            t.expires_after(20ms);
            co_await t.async_wait(asio::use_awaitable);
            ++ticks;
          }
        },
        asio::detached);
    auto start = std::chrono::steady_clock::now();
    co_await db.async_run([](pqxx::connection& c) {
      pqxx::work tx{c};
      tx.exec("SELECT pg_sleep(0.3)");
    });
    co_return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  });
  CHECK(elapsed >= 250ms);
  CHECK(ticks.load() == 5);
}

TEST_CASE("pool reconnects and retries after the server drops its connection") {
  const auto url = test::shared_pg_server().url();
  pg::pool db({.url = url, .connections = 1, .backoff_initial = 10ms});
  const int first = db.run(backend_pid);
  terminate_backend(url, first);
  int calls = 0;
  const int second = db.run([&](pqxx::connection& c) {
    ++calls;
    return backend_pid(c);
  });
  CHECK(second != first);
  CHECK(calls == 2);  // the first call hit the dead connection

  terminate_backend(url, second);
  calls = 0;
  CHECK_THROWS_AS(db.run(
                      [&](pqxx::connection& c) {
                        ++calls;
                        return backend_pid(c);
                      },
                      pg::retry_policy::none),
                  pqxx::broken_connection);
  CHECK(calls == 1);
  CHECK(db.run(backend_pid) > 0);  // and the pool recovers
}

TEST_CASE("an in-doubt commit is retried only for idempotent calls") {
  pg::pool db({.url = test::shared_pg_server().url(), .connections = 1, .backoff_initial = 1ms});
  int calls = 0;
  auto flaky = [&](pqxx::connection&) {
    if (++calls == 1) throw pqxx::in_doubt_error("simulated: connection lost during COMMIT");
    return calls;
  };
  CHECK_THROWS_AS(db.run(flaky, pg::retry_policy::reconnect), pqxx::in_doubt_error);
  CHECK(calls == 1);
  calls = 0;
  CHECK(db.run(flaky, pg::retry_policy::idempotent) == 2);
}

TEST_CASE("a pool facing a dead server gives up after max_attempts with a connection error") {
  test::pg_server server;
  const auto url = server.url();
  server.stop();
  pg::pool db({.url = url, .connections = 1, .max_attempts = 3, .backoff_initial = 5ms});
  std::exception_ptr failure;
  try {
    db.run([](pqxx::connection& c) { return backend_pid(c); });
  } catch (...) {
    failure = std::current_exception();
  }
  REQUIRE(failure);
  CHECK(pg::classify(failure) == pg::failure_kind::connection);
  server.restart();
  CHECK(db.run(backend_pid) > 0);
}

TEST_CASE("the pool only ever logs a redacted URL") {
  pg::pool db({.url = "postgresql://app:hunter2@127.0.0.1:1/x"});
  CHECK(db.redacted_url() == "postgresql://app:***@127.0.0.1:1/x");
  CHECK_THROWS_AS(pg::pool({.url = ""}), std::invalid_argument);
}

}  // TEST_SUITE
