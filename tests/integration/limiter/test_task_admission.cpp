// Per-task admission (GCRA) on a real Redis: exact pacing across two
// "workers", retry_after that is neither early nor late, batches, bursts,
// a limit changed at run time, expiry, NOSCRIPT; and reading the run-time
// rate limits hash.
#include <doctest/doctest.h>

#include <cmath>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "integration/limiter/limiter_test_util.hpp"
#include "limiter/admission.hpp"
#include "limiter/runtime_rates.hpp"
#include "support/redis_server.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using std::chrono::microseconds;

namespace {

asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

limiter::admission admit(const std::string& url, const limiter::limit& lim) {
  limiter::admission a;
  test::run_on_redis(url, [&](redis::connection& conn) -> asio::awaitable<void> {
    a = co_await limiter::async_admit(conn, lim);
  });
  return a;
}

limiter::batch_admission admit_batch(const std::string& url, const limiter::limit& lim, std::size_t runs,
                                     unsigned burst = 1) {
  limiter::batch_admission b;
  test::run_on_redis(url, [&](redis::connection& conn) -> asio::awaitable<void> {
    b = co_await limiter::async_admit_batch(conn, lim, runs, burst);
  });
  return b;
}

}  // namespace

TEST_CASE("two workers share one limit: exactly N in a window, never two runs closer than T / N") {
  test::redis_server server;
  constexpr int per_window = 20;
  const limiter::limit lim{"celeriac:limit:task:tests.shared", per_window, 1000ms};
  const auto until = std::chrono::steady_clock::now() + 2300ms;

  std::mutex mu;
  std::vector<std::int64_t> admitted_at;  // Redis µs
  std::vector<std::string> failures;
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&] {
      try {
        test::run_on_redis(server.url(), [&](redis::connection& conn) -> asio::awaitable<void> {
          while (std::chrono::steady_clock::now() < until) {
            const limiter::admission a = co_await limiter::async_admit(conn, lim);
            if (a.admitted) {
              std::lock_guard lock(mu);
              admitted_at.push_back(a.decided_at.count());
            } else {
              // Back a little before the slot opens (an early try is refused
              // and changes nothing), so a late timer costs no slot.
              co_await sleep_for(a.retry_after > 3ms ? a.retry_after - 3ms : a.retry_after);
            }
          }
        });
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        failures.push_back(e.what());
      }
    });
  }
  for (auto& w : workers) w.join();
  REQUIRE(failures.empty());
  std::sort(admitted_at.begin(), admitted_at.end());
  REQUIRE(admitted_at.size() >= 2);
  for (std::size_t i = 1; i < admitted_at.size(); ++i) CHECK(admitted_at[i] - admitted_at[i - 1] >= 50'000);
  std::vector<double> seconds;
  for (auto us : admitted_at) seconds.push_back(static_cast<double>(us) / 1e6);
  // With runs always waiting, every window of 1 s starting at a run holds
  // the full 20 (each slot is taken within a round trip of opening).
  CHECK(test::busiest_window(seconds, 1.0) == per_window);
  CHECK(admitted_at.size() >= 40);
  CHECK(admitted_at.size() <= 47);  // 2.3 s / 50 ms + 1
  MESSAGE("admitted " << admitted_at.size() << " in 2.3 s across two connections");
}

TEST_CASE("retry_after: refused just before it, admitted at it") {
  test::redis_server server;
  const limiter::limit lim{"celeriac:limit:task:tests.retry", 5, 1000ms};  // one per 200 ms
  const limiter::admission first = admit(server.url(), lim);
  CHECK(first.admitted);
  CHECK(first.retry_after == 200ms);  // the next run's slot
  const limiter::admission second = admit(server.url(), lim);
  REQUIRE_FALSE(second.admitted);
  CHECK(second.retry_after <= 200ms);
  CHECK(second.retry_after == first.decided_at + 200ms - second.decided_at);
  // The reply arrived after Redis decided: 30 ms short of the wait is
  // still before the slot, unless this machine is too busy to keep that
  // margin; what is checked is the decision against Redis's own clock.
  std::this_thread::sleep_for(second.retry_after - 30ms);
  const limiter::admission early = admit(server.url(), lim);
  const auto slot = first.decided_at + 200ms;
  if (early.decided_at < slot) {
    CHECK_FALSE(early.admitted);
    CHECK(early.retry_after == slot - early.decided_at);
    std::this_thread::sleep_for(early.retry_after);
  } else {
    MESSAGE("the 30 ms margin was overslept; the run before the slot was not tried");
    CHECK(early.admitted);
    return;
  }
  const limiter::admission on_time = admit(server.url(), lim);
  CHECK(on_time.admitted);
  CHECK(on_time.decided_at >= slot);
}

TEST_CASE("a refusal changes nothing; an admission keeps the key just past its next slot") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  const limiter::limit lim{"celeriac:limit:task:tests.state", 2, 1000ms};  // one per 500 ms
  const auto first = admit_batch(server.url(), lim, 1);
  REQUIRE(first.admitted == 1);
  const std::string stored(probe.client().command("GET", lim.key).as_string().value());
  CHECK(std::stoll(stored) == first.decided_at.count() + 500'000);
  const auto ttl = probe.client().command("PTTL", lim.key).as_integer().value();
  CHECK(ttl > 1000);
  CHECK(ttl <= 1500);
  CHECK(admit_batch(server.url(), lim, 3).admitted == 0);
  CHECK(std::string(probe.client().command("GET", lim.key).as_string().value()) == stored);
}

TEST_CASE("batches: burst 1 admits one and spaces the rest; a burst admits up to its size") {
  test::redis_server server;

  SUBCASE("burst 1") {
    const limiter::limit lim{"celeriac:limit:task:tests.batch1", 10, 1000ms};
    const auto b = admit_batch(server.url(), lim, 8);
    CHECK(b.admitted == 1);
    CHECK(b.retry_after == 100ms);
    CHECK(b.interval == 100ms);
    const auto again = admit_batch(server.url(), lim, 8);
    CHECK(again.admitted == 0);
    CHECK(again.retry_after > 0us);
    CHECK(again.retry_after <= 100ms);
  }
  SUBCASE("burst 5 of 10/s: five at once, then one per 1/6 s") {
    const limiter::limit lim{"celeriac:limit:task:tests.batch5", 10, 1000ms};
    const auto b = admit_batch(server.url(), lim, 8, 5);
    CHECK(b.admitted == 5);
    CHECK(b.interval == 166'667us);
    // 5 slots of 1/6 s, rounded up to whole µs, less the tolerance of 4.
    CHECK(b.retry_after >= 166'667us);
    CHECK(b.retry_after <= 166'668us);
    const auto again = admit_batch(server.url(), lim, 8, 5);
    CHECK(again.admitted == 0);
  }
  SUBCASE("fewer runs than the burst: all admitted, the next could be too") {
    const limiter::limit lim{"celeriac:limit:task:tests.batch_small", 10, 1000ms};
    const auto b = admit_batch(server.url(), lim, 3, 5);
    CHECK(b.admitted == 3);
    CHECK(b.retry_after == 0us);
    const auto rest = admit_batch(server.url(), lim, 3, 5);
    CHECK(rest.admitted == 2);
    CHECK(rest.retry_after > 100ms);
  }
}

TEST_CASE("a burst never lets more than N start in one window") {
  test::redis_server server;
  const limiter::limit lim{"celeriac:limit:task:tests.burst", 10, 1000ms};
  std::vector<double> starts;
  test::run_on_redis(server.url(), [&](redis::connection& conn) -> asio::awaitable<void> {
    const auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until) {
      const limiter::batch_admission b = co_await limiter::async_admit_batch(conn, lim, 4, 5);
      for (std::size_t i = 0; i < b.admitted; ++i) starts.push_back(static_cast<double>(b.decided_at.count()) / 1e6);
      co_await sleep_for(std::max<std::chrono::steady_clock::duration>(b.retry_after, 1ms));
    }
  });
  CHECK(test::busiest_window(starts, 1.0) <= 10);
  CHECK(test::busiest_window(starts, 0.01) >= 4);  // a real burst happened
}

TEST_CASE("a limit changed at run time applies from the next call, not after the old pacing") {
  test::redis_server server;
  const limiter::limit slow{"celeriac:limit:task:tests.changed", 1, 3600s};
  const limiter::limit fast{"celeriac:limit:task:tests.changed", 100, 1000ms};
  REQUIRE(admit_batch(server.url(), slow, 1).admitted == 1);
  CHECK(admit_batch(server.url(), slow, 1).retry_after > 3500s);
  const auto now_fast = admit_batch(server.url(), fast, 1);
  if (!now_fast.admitted) CHECK(now_fast.retry_after <= 10ms);
  std::this_thread::sleep_for(11ms);
  CHECK(admit_batch(server.url(), fast, 1).admitted == 1);
}

TEST_CASE("the script is loaded again after SCRIPT FLUSH") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  // One an hour: the refusal after the flush shows the script ran again
  // (and found its state), however slowly this machine runs the test.
  const limiter::limit lim{"celeriac:limit:task:tests.flush", 1, 3600s};
  CHECK(admit_batch(server.url(), lim, 1).admitted == 1);
  probe.client().command("SCRIPT", "FLUSH");
  const auto again = admit_batch(server.url(), lim, 1);
  CHECK(again.admitted == 0);
  CHECK(again.retry_after > 3500s);
}

TEST_CASE("malformed limits are refused before Redis is asked") {
  test::redis_server server;
  CHECK_THROWS_AS(admit_batch(server.url(), limiter::limit{"k", 0, 1s}, 1), std::invalid_argument);
  CHECK_THROWS_AS(admit_batch(server.url(), limiter::limit{"k", 5, 1s}, 0), std::invalid_argument);
  CHECK_THROWS_AS(admit_batch(server.url(), limiter::limit{"k", 5, 1s}, 1, 6), std::invalid_argument);
}

TEST_CASE("the run-time rate limits hash, read whole") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  auto read = [&] {
    limiter::runtime_rates r;
    test::run_on_redis(server.url(), [&](redis::connection& conn) -> asio::awaitable<void> {
      r = co_await limiter::async_read_runtime_rates(conn);
    });
    return r;
  };
  CHECK(read().rates.empty());
  probe.client().command("HSET", "celeriac.rate_limits", "tasks.add", "10/m", "tasks.off", "off", "tasks.bad", "x");
  const auto r = read();
  CHECK(r.rates.size() == 2);
  CHECK(r.rates.at("tasks.add")->window == 60s);
  CHECK_FALSE(r.rates.at("tasks.off").has_value());
  REQUIRE(r.bad.size() == 1);
  CHECK(r.bad[0].task == "tasks.bad");

  probe.client().command("DEL", "celeriac.rate_limits");
  probe.client().command("SET", "celeriac.rate_limits", "oops");
  try {
    read();
    FAIL("a string under the key should not read as rate limits");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("celeriac.rate_limits") != std::string::npos);
  }
}
