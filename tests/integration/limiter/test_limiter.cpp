// Cluster-wide rate limits on a real Redis: exact sliding windows, charges
// that are all or nothing, corrections, many clients at once.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "limiter/limiter.hpp"
#include "redis/config.hpp"
#include "redis/sync_client.hpp"
#include "support/redis_server.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

limiter::decision try_charge(const std::string& url, std::vector<limiter::charge> charges) {
  asio::io_context io;
  redis::connection conn(io.get_executor(), *redis::parse_url(url));
  auto body = [&]() -> asio::awaitable<limiter::decision> {
    co_await conn.async_connect();
    auto d = co_await limiter::async_try_charge(conn, charges);
    conn.close();
    co_return d;
  };
  auto fut = asio::co_spawn(io, body(), asio::use_future);
  io.run();
  return fut.get();
}

void adjust(const std::string& url, const limiter::limit& l, const std::string& id, double delta) {
  asio::io_context io;
  redis::connection conn(io.get_executor(), *redis::parse_url(url));
  auto body = [&]() -> asio::awaitable<void> {
    co_await conn.async_connect();
    co_await limiter::async_adjust(conn, l, id, delta);
    conn.close();
  };
  auto fut = asio::co_spawn(io, body(), asio::use_future);
  io.run();
  fut.get();
}

}  // namespace

TEST_CASE("N per window: the N+1th waits for the oldest to leave the window") {
  test::redis_server server;
  limiter::limit five{"t:five", 5, 1000ms};
  for (int i = 0; i < 5; ++i) CHECK(try_charge(server.url(), {{&five, 1}}).granted);
  auto refused = try_charge(server.url(), {{&five, 1}});
  CHECK_FALSE(refused.granted);
  CHECK(refused.retry_after > 0ms);
  CHECK(refused.retry_after <= 1001ms);
  CHECK(refused.id == "t:five");
  std::this_thread::sleep_for(refused.retry_after + 20ms);
  CHECK(try_charge(server.url(), {{&five, 1}}).granted);
}

TEST_CASE("a charge over several limits is all or nothing") {
  test::redis_server server;
  limiter::limit rpm{"t:rpm", 10, 60s}, tpm{"t:tpm", 100, 60s};
  CHECK(try_charge(server.url(), {{&rpm, 1}, {&tpm, 80}}).granted);
  auto second = try_charge(server.url(), {{&rpm, 1}, {&tpm, 30}});
  CHECK_FALSE(second.granted);
  CHECK(second.id == "t:tpm");
  redis::sync_client c{*redis::parse_url(server.url())};
  c.connect();
  CHECK(c.command("ZCARD", "{t:rpm}:log").as_integer().value() == 1);  // nothing recorded for the refused one
  CHECK(try_charge(server.url(), {{&rpm, 1}, {&tpm, 20}}).granted);
}

TEST_CASE("corrections: less than estimated frees room, more takes it") {
  test::redis_server server;
  limiter::limit tpm{"t:adjust", 100, 60s};
  auto first = try_charge(server.url(), {{&tpm, 50}});
  REQUIRE(first.granted);
  CHECK_FALSE(try_charge(server.url(), {{&tpm, 60}}).granted);
  adjust(server.url(), tpm, first.id, -30);  // used 20
  CHECK(try_charge(server.url(), {{&tpm, 60}}).granted);  // 80 now
  auto small = try_charge(server.url(), {{&tpm, 10}});
  REQUIRE(small.granted);  // 90
  adjust(server.url(), tpm, small.id, +15);  // really 25: 105
  CHECK_FALSE(try_charge(server.url(), {{&tpm, 1}}).granted);
  adjust(server.url(), tpm, "no-such-charge", -1000);  // gone from the window: ignored
  CHECK_FALSE(try_charge(server.url(), {{&tpm, 1}}).granted);
}

TEST_CASE("an oversize charge waits for an empty window, then goes through") {
  test::redis_server server;
  limiter::limit l{"t:big", 10, 500ms};
  CHECK(try_charge(server.url(), {{&l, 1}}).granted);
  CHECK_FALSE(try_charge(server.url(), {{&l, 50}}).granted);
  std::this_thread::sleep_for(600ms);
  CHECK(try_charge(server.url(), {{&l, 50}}).granted);
}

TEST_CASE("keys expire when idle, and survive SCRIPT FLUSH") {
  test::redis_server server;
  limiter::limit l{"t:idle", 10, 300ms};
  CHECK(try_charge(server.url(), {{&l, 1}}).granted);
  redis::sync_client c{*redis::parse_url(server.url())};
  c.connect();
  CHECK(c.command("EXISTS", "{t:idle}:log").as_integer().value() == 1);
  std::this_thread::sleep_for(1500ms);
  CHECK(c.command("EXISTS", "{t:idle}:log", "{t:idle}:sum", "{t:idle}:amounts").as_integer().value() == 0);
  c.command("SCRIPT", "FLUSH");
  CHECK(try_charge(server.url(), {{&l, 1}}).granted);
}

TEST_CASE("four clients at once never exceed the limit in any window") {
  test::redis_server server;
  limiter::limit l{"t:busy", 20, 1000ms};
  std::mutex mu;
  std::vector<double> granted_at;  // Redis TIME seconds of each grant
  std::vector<std::thread> threads;
  const auto until = std::chrono::steady_clock::now() + 4s;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      asio::io_context io;
      redis::connection conn(io.get_executor(), *redis::parse_url(server.url()));
      auto body = [&]() -> asio::awaitable<void> {
        co_await conn.async_connect();
        std::vector<limiter::charge> one{{&l, 1}};
        while (std::chrono::steady_clock::now() < until) {
          auto deadline = std::chrono::steady_clock::now() + 5s;
          co_await limiter::async_acquire(conn, one, deadline);
          redis::request req;
          req.push("TIME");
          auto reply = co_await conn.async_exec(req);
          auto parts = reply[0].elements().value();
          double secs = std::stod(std::string(parts[0].as_string().value())) +
                        std::stod(std::string(parts[1].as_string().value())) / 1e6;
          std::lock_guard lock(mu);
          granted_at.push_back(secs);
        }
        conn.close();
      };
      auto fut = asio::co_spawn(io, body(), asio::use_future);
      io.run();
      fut.get();
    });
  }
  for (auto& t : threads) t.join();
  std::sort(granted_at.begin(), granted_at.end());
  // The grant's own TIME is read just after the script ran, so allow the
  // window a few milliseconds of slack on its far side.
  std::size_t worst = 0;
  for (std::size_t i = 0, j = 0; i < granted_at.size(); ++i) {
    while (granted_at[i] - granted_at[j] >= 1.0 - 0.005) ++j;
    worst = std::max(worst, i - j + 1);
  }
  CHECK(worst <= 20);
  // Not just refusing: close to 20 per second over ~4 s.
  CHECK(granted_at.size() >= 70);
  MESSAGE("granted " << granted_at.size() << " in ~4 s; busiest window " << worst);
}

TEST_CASE("Celery-style rate strings") {
  CHECK(limiter::parse_rate("k", "10/s")->amount_per_window == 10);
  CHECK(limiter::parse_rate("k", "100/m")->window == 60s);
  CHECK(limiter::parse_rate("k", "1000/h")->window == 3600s);
  CHECK(limiter::parse_rate("k", "5")->window == 1s);
  CHECK_FALSE(limiter::parse_rate("k", "0"));
  CHECK_FALSE(limiter::parse_rate("k", ""));
  CHECK_THROWS_AS(limiter::parse_rate("k", "10/d"), std::invalid_argument);
  CHECK_THROWS_AS(limiter::parse_rate("k", "ten/s"), std::invalid_argument);
}
