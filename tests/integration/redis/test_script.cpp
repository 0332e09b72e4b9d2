#include "redis/connection.hpp"
#include "redis/script.hpp"
#include "support/redis_server.hpp"
#include "run_coro.hpp"

#include <doctest/doctest.h>

#include <boost/system/system_error.hpp>

#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace celeriac;
using asio::awaitable;
using celeriac::test::run_coro;

namespace {

const redis::script push_and_count{R"lua(
redis.call('RPUSH', KEYS[1], ARGV[1])
return redis.call('LLEN', KEYS[1])
)lua"};

}  // namespace

TEST_CASE("async_eval falls back on NOSCRIPT, then runs by SHA1") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection conn(ex, *redis::parse_url(server.url()));
    co_await conn.async_connect();

    redis::request exists;
    exists.push("SCRIPT", "EXISTS", push_and_count.sha1());
    CHECK((co_await conn.async_exec(exists))[0].to_debug_string() == "[:0]");

    // The initializer-list form, awaited outside the call (g++ 12).
    auto first = redis::async_eval(conn, push_and_count, {"list"}, {"a"});
    auto r = co_await std::move(first);
    CHECK(*r.as_integer() == 1);
    CHECK((co_await conn.async_exec(exists))[0].to_debug_string() == "[:1]");

    const std::vector<std::string> keys = {"list"};
    const std::vector<long> args = {42};
    r = co_await redis::async_eval(conn, push_and_count, keys, args);
    CHECK(*r.as_integer() == 2);

    // After SCRIPT FLUSH the cache is gone again; async_eval reloads.
    redis::request flush;
    flush.push("SCRIPT", "FLUSH");
    co_await conn.async_exec(flush);
    r = co_await redis::async_eval(conn, push_and_count, 1, "list", "c");
    CHECK(*r.as_integer() == 3);
  });
}

TEST_CASE("NOSCRIPT is detected in its pipeline slot") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection conn(ex, *redis::parse_url(server.url()));
    co_await conn.async_connect();
    redis::request req;
    req.push("PING");
    redis::push_evalsha(req, push_and_count, 1, "l", "x");
    req.push("LLEN", "l");
    auto replies = co_await conn.async_exec(req);
    REQUIRE(replies.size() == 3);
    CHECK(redis::is_noscript(replies[1]));
    CHECK(*replies[2].as_integer() == 0);

    co_await redis::async_load(conn, push_and_count);
    replies = co_await conn.async_exec(req);
    CHECK(*replies[1].as_integer() == 1);
  });
}

TEST_CASE("script errors are values; bad scripts fail to load with the server's message") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection conn(ex, *redis::parse_url(server.url()));
    co_await conn.async_connect();
    const redis::script fails{"return redis.call('INCR', KEYS[1])"};
    redis::request set;
    set.push("SET", "s", "text");
    co_await conn.async_exec(set);
    auto r = co_await redis::async_eval(conn, fails, 1, "s");
    CHECK(r.is_error());

    const redis::script broken{"this is not lua"};
    try {
      co_await redis::async_load(conn, broken);
      FAIL("a syntax error must be refused");
    } catch (const boost::system::system_error& e) {
      CHECK(e.code() == resp::error::server_error);
      CHECK(std::string(e.what()).find(broken.sha1()) != std::string::npos);
    }
  });
}
