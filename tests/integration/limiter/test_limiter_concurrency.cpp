// Four clients, each with its own thread, io_context and connection,
// acquire from one limit as fast as it lets them. Every sliding window of
// the grants must hold at most the limit, and the grants must come close
// to the most the limit allows (a limiter that refuses everything is
// safe, and useless).
#include <doctest/doctest.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "integration/limiter/limiter_test_util.hpp"
#include "support/redis_server.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

double seconds_of_time_reply(const resp::value& reply) {
  auto parts = reply.elements().value();
  return std::stod(std::string(parts[0].as_string().value())) +
         std::stod(std::string(parts[1].as_string().value())) / 1e6;
}

}  // namespace

TEST_CASE("four clients at once never exceed the limit in any window, and nearly reach it") {
  test::redis_server server;
  constexpr int per_window = 25;
  constexpr double window_s = 2.0;
  constexpr auto run_for = 6s;
  limiter::limit busy{"t:busy", per_window, 2000ms};
  // Charged with every request and never short: its log keeps the exact
  // Redis time of every grant for the whole run.
  limiter::limit audit{"t:audit", 1e9, 60s};

  std::mutex mu;
  std::vector<double> seen_after;  // Redis TIME read just after each grant
  std::vector<std::string> failures;
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + run_for;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      try {
        test::run_on_redis(server.url(), [&](redis::connection& conn) -> asio::awaitable<void> {
          std::vector<limiter::charge> request{{&busy, 1}, {&audit, 1}};
          redis::request time;
          time.push("TIME");
          while (std::chrono::steady_clock::now() < until) {
            try {
              co_await limiter::async_acquire(conn, request, until);
            } catch (const limiter::deadline_exceeded&) {
              break;
            }
            std::vector<resp::value> now = co_await conn.async_exec(time);
            std::lock_guard lock(mu);
            seen_after.push_back(seconds_of_time_reply(now.at(0)));
          }
        });
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        failures.push_back(e.what());
      }
    });
  }
  for (auto& c : clients) c.join();
  REQUIRE(failures.empty());

  test::limit_probe probe(server.url());
  std::vector<double> granted_at = probe.times(audit);
  for (double& t : granted_at) t /= 1e6;
  REQUIRE(granted_at.size() == seen_after.size());
  std::sort(seen_after.begin(), seen_after.end());

  // Exact: the times the script recorded, against the full window.
  const std::size_t exact_worst = test::busiest_window(granted_at, window_s);
  CHECK(exact_worst <= per_window);
  // Independent of the script's own clock readings: TIME read after each
  // grant is late by one round trip, so look at windows 50 ms shorter.
  const std::size_t seen_worst = test::busiest_window(seen_after, window_s - 0.05);
  CHECK(seen_worst <= per_window);

  // At most 25 in each of [0, 2), [2, 4), [4, 6) s of the run: 75.
  const std::size_t most = per_window * 3;
  CHECK(granted_at.size() <= most);
  CHECK(granted_at.size() >= most * 7 / 10);
  MESSAGE("granted " << granted_at.size() << " of at most " << most << " in 6 s; busiest window " << exact_worst
                     << " (seen by the clients: " << seen_worst << ")");
}
