// Cluster-wide rate limits on a real Redis: exact sliding windows, charges
// that are all or nothing, corrections, oversize charges, expiry, NOSCRIPT,
// deadlines. (Many clients at once: test_limiter_concurrency.cpp.)
#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "integration/limiter/limiter_test_util.hpp"
#include "support/redis_server.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using test::adjust;
using test::try_charge;
using steady = std::chrono::steady_clock;

TEST_CASE("N per window: the N+1th waits exactly until the oldest leaves the window") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  limiter::limit five{"t:five", 5, 1000ms};
  const auto first_sent = steady::now();
  for (int i = 0; i < 5; ++i) CHECK(try_charge(server.url(), {{&five, 1}}).granted);
  auto refused = try_charge(server.url(), {{&five, 1}});
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - first_sent);
  REQUIRE_FALSE(refused.granted);
  CHECK(refused.short_key == "t:five");
  CHECK(refused.id.empty());
  CHECK(refused.retry_after > 0ms);
  CHECK(refused.retry_after <= 1000ms);
  // The oldest charge was recorded after first_sent and the refusal before
  // now, so the wait can be no shorter than the window minus that span.
  CHECK(refused.retry_after >= 1000ms - elapsed - 1ms);
  CHECK(probe.entries(five) == 5);
  CHECK(probe.sum(five) == 5);
  // Exactly the wait named is enough.
  std::this_thread::sleep_for(refused.retry_after);
  CHECK(try_charge(server.url(), {{&five, 1}}).granted);
}

TEST_CASE("a charge over several limits is all or nothing") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  limiter::limit rpm{"t:rpm", 10, 60s}, tpm{"t:tpm", 100, 60s};
  CHECK(try_charge(server.url(), {{&rpm, 1}, {&tpm, 80}}).granted);
  auto second = try_charge(server.url(), {{&rpm, 1}, {&tpm, 30}});
  CHECK_FALSE(second.granted);
  CHECK(second.short_key == "t:tpm");
  // Nothing recorded for the refused one, not even its request.
  CHECK(probe.entries(rpm) == 1);
  CHECK(probe.sum(rpm) == 1);
  CHECK(probe.entries(tpm) == 1);
  CHECK(probe.sum(tpm) == 80);
  CHECK(try_charge(server.url(), {{&rpm, 1}, {&tpm, 20}}).granted);
  CHECK(probe.sum(rpm) == 2);
  CHECK(probe.sum(tpm) == 100);
}

TEST_CASE("a refusal names the limit with the longest wait") {
  test::redis_server server;
  limiter::limit rpm{"t:rpm", 1, 1s}, tpm{"t:tpm", 100, 30s};
  REQUIRE(try_charge(server.url(), {{&rpm, 1}, {&tpm, 100}}).granted);
  auto refused = try_charge(server.url(), {{&rpm, 1}, {&tpm, 1}});
  CHECK_FALSE(refused.granted);
  CHECK(refused.short_key == "t:tpm");
  CHECK(refused.retry_after > 1s);
  CHECK(refused.retry_after <= 30s);
}

TEST_CASE("corrections: less than estimated frees room, more takes it") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  limiter::limit tpm{"t:adjust", 100, 60s};

  SUBCASE("estimate 50, used 20") {
    auto call = try_charge(server.url(), {{&tpm, 50}});
    REQUIRE(call.granted);
    CHECK_FALSE(try_charge(server.url(), {{&tpm, 60}}).granted);
    CHECK(adjust(server.url(), tpm, call.id, -30) == limiter::adjustment::adjusted);
    CHECK(probe.sum(tpm) == 20);
    CHECK(try_charge(server.url(), {{&tpm, 80}}).granted);
    CHECK_FALSE(try_charge(server.url(), {{&tpm, 1}}).granted);
  }
  SUBCASE("estimate 50, used 90") {
    auto call = try_charge(server.url(), {{&tpm, 50}});
    REQUIRE(call.granted);
    CHECK(adjust(server.url(), tpm, call.id, +40) == limiter::adjustment::adjusted);
    CHECK(probe.sum(tpm) == 90);
    CHECK_FALSE(try_charge(server.url(), {{&tpm, 20}}).granted);
    CHECK(try_charge(server.url(), {{&tpm, 10}}).granted);
    CHECK_FALSE(try_charge(server.url(), {{&tpm, 1}}).granted);
  }
  SUBCASE("a call that never happened gives all of it back, and no more") {
    auto other = try_charge(server.url(), {{&tpm, 30}});
    auto call = try_charge(server.url(), {{&tpm, 50}});
    REQUIRE(call.granted);
    CHECK(adjust(server.url(), tpm, call.id, -1000) == limiter::adjustment::dropped);
    CHECK(probe.entries(tpm) == 1);
    CHECK(probe.sum(tpm) == 30);  // not 30 - 1000: a charge never goes below zero
    CHECK(try_charge(server.url(), {{&tpm, 70}}).granted);
    CHECK_FALSE(try_charge(server.url(), {{&tpm, 1}}).granted);
    // Dropping the last entry leaves the window empty, keys and all.
    CHECK(adjust(server.url(), tpm, other.id, -30) == limiter::adjustment::dropped);
  }
  SUBCASE("an unknown or expired charge gives nothing back") {
    REQUIRE(try_charge(server.url(), {{&tpm, 100}}).granted);
    CHECK(adjust(server.url(), tpm, "no-such-charge", -1000) == limiter::adjustment::gone);
    CHECK(probe.sum(tpm) == 100);
    CHECK_FALSE(try_charge(server.url(), {{&tpm, 1}}).granted);
  }
}

TEST_CASE("extra use reported after the charge left its window counts from then on") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  limiter::limit tpm{"t:late", 100, 300ms};
  auto call = try_charge(server.url(), {{&tpm, 50}});
  REQUIRE(call.granted);
  std::this_thread::sleep_for(400ms);  // the charge has left the window
  CHECK(adjust(server.url(), tpm, call.id, -10) == limiter::adjustment::gone);
  CHECK(adjust(server.url(), tpm, call.id, +70) == limiter::adjustment::recorded);
  CHECK(probe.entries(tpm) == 1);
  CHECK(probe.sum(tpm) == 70);
  CHECK_FALSE(try_charge(server.url(), {{&tpm, 31}}).granted);
  CHECK(try_charge(server.url(), {{&tpm, 30}}).granted);
}

TEST_CASE("an oversize charge is granted only on an empty window") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  limiter::limit l{"t:big", 10, 500ms};

  SUBCASE("an empty window takes it at once, and is then full") {
    CHECK(try_charge(server.url(), {{&l, 50}}).granted);
    auto next = try_charge(server.url(), {{&l, 1}});
    CHECK_FALSE(next.granted);
    CHECK(next.retry_after <= 500ms);
  }
  SUBCASE("a busy window makes it wait until every entry has left") {
    CHECK(try_charge(server.url(), {{&l, 1}}).granted);
    std::this_thread::sleep_for(100ms);
    CHECK(try_charge(server.url(), {{&l, 1}}).granted);
    auto big = try_charge(server.url(), {{&l, 50}});
    REQUIRE_FALSE(big.granted);
    CHECK(big.short_key == "t:big");
    // Until the newer entry leaves, not just the older one.
    CHECK(big.retry_after > 300ms);
    CHECK(big.retry_after <= 500ms);
    std::this_thread::sleep_for(big.retry_after);
    CHECK(try_charge(server.url(), {{&l, 50}}).granted);
    CHECK(probe.sum(l) == 50);
  }
}

TEST_CASE("keys expire when idle") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  limiter::limit l{"t:idle", 10, 300ms};
  CHECK(try_charge(server.url(), {{&l, 1}}).granted);
  CHECK(probe.keys_present(l) == 3);
  for (const auto& key : {limiter::keys_for(l).log, limiter::keys_for(l).amounts, limiter::keys_for(l).sum}) {
    CAPTURE(key);
    const auto ttl = probe.client().command("PTTL", key).as_integer().value();
    CHECK(ttl > 0);
    CHECK(ttl <= 1300);
  }
  std::this_thread::sleep_for(1500ms);
  CHECK(probe.keys_present(l) == 0);
}

TEST_CASE("scripts flushed from Redis are loaded again on the same connection") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  limiter::limit l{"t:flush", 10, 60s};
  std::vector<limiter::charge> one{{&l, 4}};
  test::run_on_redis(server.url(), [&](redis::connection& conn) -> asio::awaitable<void> {
    limiter::decision first = co_await limiter::async_try_charge(conn, one);
    CHECK(first.granted);
    redis::request flush;
    flush.push("SCRIPT", "FLUSH");
    co_await conn.async_exec(flush);
    limiter::decision second = co_await limiter::async_try_charge(conn, one);
    CHECK(second.granted);
    redis::request flush_again;
    flush_again.push("SCRIPT", "FLUSH");
    co_await conn.async_exec(flush_again);
    limiter::adjustment fixed = co_await limiter::async_adjust(conn, l, second.id, -3);
    CHECK(fixed == limiter::adjustment::adjusted);
  });
  CHECK(probe.sum(l) == 5);
}

TEST_CASE("acquire waits for room, and gives up at its deadline naming the limit") {
  test::redis_server server;
  limiter::limit l{"t:acquire", 2, 700ms};
  std::vector<limiter::charge> one{{&l, 1}};
  test::run_on_redis(server.url(), [&](redis::connection& conn) -> asio::awaitable<void> {
    const auto start = steady::now();
    for (int i = 0; i < 3; ++i) {
      std::string id = co_await limiter::async_acquire(conn, one, start + 5s);
      CHECK_FALSE(id.empty());
    }
    // The third had to wait for the first to leave its window.
    CHECK(steady::now() - start >= 650ms);
  });
  limiter::limit slow{"t:slow", 1, 60s};
  std::vector<limiter::charge> once{{&slow, 1}};
  REQUIRE(try_charge(server.url(), once).granted);
  std::string message;
  steady::time_point deadline;
  test::run_on_redis(server.url(), [&](redis::connection& conn) -> asio::awaitable<void> {
    deadline = steady::now() + 300ms;
    try {
      co_await limiter::async_acquire(conn, once, deadline);
    } catch (const limiter::deadline_exceeded& e) {
      message = e.what();
    }
  });
  CHECK(steady::now() >= deadline);  // it tried until the deadline, not less
  CHECK(message.find("rate limit t:slow had no room for 1") != std::string::npos);
}

TEST_CASE("malformed charges throw before anything reaches Redis") {
  test::redis_server server;
  test::limit_probe probe(server.url());
  limiter::limit l{"t:bad", 10, 1s};
  CHECK_THROWS_AS(try_charge(server.url(), {{&l, -1}}), std::invalid_argument);
  CHECK_THROWS_AS(try_charge(server.url(), {{&l, 1}, {&l, 1}}), std::invalid_argument);
  CHECK_THROWS_AS(adjust(server.url(), l, "some-id", std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  CHECK(probe.keys_present(l) == 0);
  auto free = try_charge(server.url(), {});
  CHECK(free.granted);
}
