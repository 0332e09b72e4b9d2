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
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace celeriac;
using asio::awaitable;
using celeriac::test::run_coro;

TEST_CASE("reconnect after the server is stopped and restarted on the same port") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    const auto cfg = *redis::parse_url(server.url());
    redis::connection conn(ex, cfg);
    redis::connection sub(ex, cfg);
    co_await conn.async_connect();
    co_await sub.async_connect();
    co_await sub.async_subscribe("events");

    redis::request set;
    set.push("SET", "k", "before");
    co_await conn.async_exec(set);

    server.stop();
    redis::request ping;
    ping.push("PING");
    bool threw = false;
    try {
      co_await conn.async_exec(ping);
    } catch (const boost::system::system_error&) {
      threw = true;
    }
    CHECK(threw);
    CHECK_FALSE(conn.is_connected());

    // Restart a little later from another thread, while we back off.
    std::thread restarter([&server] {
      std::this_thread::sleep_for(400ms);
      server.restart();
    });
    const auto start = std::chrono::steady_clock::now();
    co_await conn.async_reconnect();
    co_await sub.async_reconnect();
    restarter.join();
    CHECK(std::chrono::steady_clock::now() - start >= 300ms);
    CHECK(conn.is_connected());

    auto r = co_await conn.async_exec(ping);
    CHECK(*r[0].as_string() == "PONG");
    redis::request get;
    get.push("GET", "k");
    CHECK((co_await conn.async_exec(get))[0].is_nil());  // persistence is off

    // The subscription was re-established by the reconnect.
    CHECK(sub.subscription_count() == 1);
    redis::request publish;
    publish.push("PUBLISH", "events", "back");
    CHECK(*(co_await conn.async_exec(publish))[0].as_integer() == 1);
    auto m = co_await sub.async_receive();
    CHECK(m.payload == "back");
  });
}

TEST_CASE("async_reconnect can be cancelled while the server is down") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    redis::connection conn(ex, *redis::parse_url(server.url()));
    co_await conn.async_connect();
    server.stop();
    asio::steady_timer timer(ex, 300ms);
    auto winner = co_await (conn.async_reconnect() || timer.async_wait(asio::use_awaitable));
    CHECK(winner.index() == 1);
    CHECK_FALSE(conn.is_connected());
  });
}
