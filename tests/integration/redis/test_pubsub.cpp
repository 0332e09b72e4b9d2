#include "redis/connection.hpp"
#include "redis/error.hpp"
#include "support/redis_server.hpp"
#include "run_coro.hpp"

#include <doctest/doctest.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace celeriac;
using asio::awaitable;
using celeriac::test::run_coro;

namespace {

awaitable<std::int64_t> publish(redis::connection& conn, std::string_view channel,
                                std::string_view payload) {
  redis::request req;
  req.push("PUBLISH", channel, payload);
  co_return *(co_await conn.async_exec(req))[0].as_integer();
}

}  // namespace

TEST_CASE("subscribe, psubscribe, receive, unsubscribe") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    const auto cfg = *redis::parse_url(server.url());
    redis::connection sub(ex, cfg);
    redis::connection pub(ex, cfg);
    co_await sub.async_connect();
    co_await pub.async_connect();

    co_await sub.async_subscribe("ch1", "ch2");
    co_await sub.async_psubscribe(std::string("news.*"));
    CHECK(sub.subscription_count() == 3);
    CHECK_FALSE(sub.try_receive().has_value());

    CHECK(co_await publish(pub, "ch1", "a") == 1);
    CHECK(co_await publish(pub, "news.sport", std::string_view("b\r\n\0", 4)) == 1);
    CHECK(co_await publish(pub, "other", "ignored") == 0);

    auto m1 = co_await sub.async_receive();
    CHECK(m1.channel == "ch1");
    CHECK(m1.pattern.empty());
    CHECK(m1.payload == "a");
    auto m2 = co_await sub.async_receive();
    CHECK(m2.channel == "news.sport");
    CHECK(m2.pattern == "news.*");
    CHECK(m2.payload == std::string("b\r\n\0", 4));

    // PING is allowed while subscribed and does not disturb the stream.
    redis::request ping;
    ping.push("PING");
    auto pong = co_await sub.async_exec(ping);
    CHECK(pong[0].to_debug_string() == R"(["pong", ""])");

    co_await sub.async_unsubscribe("ch1");
    CHECK(sub.subscription_count() == 2);
    CHECK(co_await publish(pub, "ch1", "after") == 0);
    CHECK(co_await publish(pub, "ch2", "still") == 1);
    auto m3 = co_await sub.async_receive();
    CHECK(m3.channel == "ch2");
    CHECK(m3.payload == "still");

    co_await sub.async_unsubscribe(std::vector<std::string>(1, "ch2"));
    co_await sub.async_punsubscribe("news.*");
    CHECK(sub.subscription_count() == 0);
    // Back to a normal connection once nothing is subscribed.
    redis::request set;
    set.push("SET", "k", "v");
    CHECK(*(co_await sub.async_exec(set))[0].as_string() == "OK");
  });
}

TEST_CASE("receive with a timeout loses nothing and leaves the connection usable") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    const auto cfg = *redis::parse_url(server.url());
    redis::connection sub(ex, cfg);
    redis::connection pub(ex, cfg);
    co_await sub.async_connect();
    co_await pub.async_connect();
    co_await sub.async_subscribe("celeriac.control");

    asio::steady_timer timer(ex, 100ms);
    auto winner = co_await (sub.async_receive() || timer.async_wait(asio::use_awaitable));
    CHECK(winner.index() == 1);
    CHECK(sub.is_connected());

    CHECK(co_await publish(pub, "celeriac.control", "ping-1") == 1);
    timer.expires_after(2s);
    winner = co_await (sub.async_receive() || timer.async_wait(asio::use_awaitable));
    REQUIRE(winner.index() == 0);
    CHECK(std::get<0>(winner).payload == "ping-1");
  });
}

TEST_CASE("async_receive with a timeout returns nullopt, then the next message") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    const auto cfg = *redis::parse_url(server.url());
    redis::connection sub(ex, cfg);
    redis::connection pub(ex, cfg);
    co_await sub.async_connect();
    co_await pub.async_connect();
    co_await sub.async_subscribe("results");
    const auto start = std::chrono::steady_clock::now();
    auto none = co_await sub.async_receive(100ms);
    CHECK_FALSE(none.has_value());
    CHECK(std::chrono::steady_clock::now() - start >= 90ms);
    CHECK(co_await publish(pub, "results", "done") == 1);
    auto some = co_await sub.async_receive(2s);
    REQUIRE(some.has_value());
    CHECK(some->payload == "done");

    // A broken connection is reported at once, not after the timeout.
    redis::request kill;
    kill.push("CLIENT", "KILL", "TYPE", "pubsub");
    co_await pub.async_exec(kill);
    const auto broke = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(co_await sub.async_receive(10s), boost::system::system_error);
    CHECK(std::chrono::steady_clock::now() - broke < 5s);
  });
}

TEST_CASE("a burst of messages arrives complete and in order") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    const auto cfg = *redis::parse_url(server.url());
    redis::connection sub(ex, cfg);
    redis::connection pub(ex, cfg);
    co_await sub.async_connect();
    co_await pub.async_connect();
    co_await sub.async_subscribe("burst");
    redis::request req;
    for (int i = 0; i < 2000; ++i) req.push("PUBLISH", "burst", std::string(500, 'x') + std::to_string(i));
    co_await pub.async_exec(req);
    for (int i = 0; i < 2000; ++i) {
      auto m = co_await sub.async_receive();
      REQUIRE(m.payload == std::string(500, 'x') + std::to_string(i));
    }
  });
}

TEST_CASE("a broken subscriber connection wakes the receiver with an error") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    const auto cfg = *redis::parse_url(server.url());
    redis::connection sub(ex, cfg);
    redis::connection admin(ex, cfg);
    co_await sub.async_connect();
    co_await admin.async_connect();
    co_await sub.async_subscribe("x");
    redis::request kill;
    kill.push("CLIENT", "KILL", "TYPE", "pubsub");
    co_await admin.async_exec(kill);
    try {
      co_await sub.async_receive();
      FAIL("receive on a killed connection must throw");
    } catch (const boost::system::system_error& e) {
      CHECK(e.code() == asio::error::eof);
    }
    CHECK_FALSE(sub.is_connected());
  });
}
