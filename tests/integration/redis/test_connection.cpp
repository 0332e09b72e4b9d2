#include "redis/connection.hpp"
#include "redis/error.hpp"
#include "support/redis_server.hpp"
#include "run_coro.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace celeriac;
using asio::awaitable;
using celeriac::test::run_coro;

namespace {

redis::config config_for(const test::redis_server& server) {
  auto cfg = redis::parse_url(server.url());
  REQUIRE(cfg.has_value());
  return *cfg;
}

std::size_t threads_of_this_process() {
  const std::filesystem::directory_iterator tasks("/proc/self/task");
  return static_cast<std::size_t>(std::distance(begin(tasks), end(tasks)));
}

// Waits until `done` or about 5 s.
awaitable<void> wait_for(const bool& done) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (int i = 0; i < 500 && !done; ++i) {
    t.expires_after(10ms);
    co_await t.async_wait(asio::use_awaitable);
  }
}

}  // namespace

TEST_CASE("connect, SET and GET, and per-command errors are values") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection conn(ex, config_for(server));
    CHECK_FALSE(conn.is_connected());
    co_await conn.async_connect();
    CHECK(conn.is_connected());

    redis::request req;
    req.push("SET", "greeting", "hello")
        .push("GET", "greeting")
        .push("GET", "missing")
        .push("INCR", "greeting")  // not an integer: an error value
        .push("NOSUCHCOMMAND")
        .push("DEL", "greeting");
    auto replies = co_await conn.async_exec(req);
    REQUIRE(replies.size() == 6);
    CHECK(*replies[0].as_string() == "OK");
    CHECK(*replies[1].as_string() == "hello");
    CHECK(replies[2].is_nil());
    CHECK(replies[3].is_error());
    CHECK(replies[3].error_kind() == "ERR");
    CHECK(replies[4].is_error());
    CHECK(*replies[5].as_integer() == 1);

    // The connection is still fine after error replies.
    redis::request ping;
    ping.push("PING");
    CHECK(*(co_await conn.async_exec(ping))[0].as_string() == "PONG");
    CHECK((co_await conn.async_exec(redis::request{})).empty());
    conn.close();
    CHECK_FALSE(conn.is_connected());
  });
}

TEST_CASE("a pipeline of 10k commands gets 10k replies in order") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection conn(ex, config_for(server));
    co_await conn.async_connect();
    const std::string body(900, 'b');  // about a Celery message
    redis::request push;
    for (int i = 0; i < 10000; ++i) push.push("RPUSH", "queue", body + std::to_string(i));
    auto replies = co_await conn.async_exec(push);
    REQUIRE(replies.size() == 10000);
    for (int i = 0; i < 10000; ++i) REQUIRE(*replies[i].as_integer() == i + 1);

    redis::request read;
    for (int i = 0; i < 10000; ++i) read.push("LINDEX", "queue", i);
    read.push("LRANGE", "queue", 0, -1);
    replies = co_await conn.async_exec(read);
    REQUIRE(replies.size() == 10001);
    for (int i = 0; i < 10000; ++i) REQUIRE(*replies[i].as_string() == body + std::to_string(i));
    const auto all = replies[10000].elements();
    REQUIRE(all.has_value());
    REQUIRE(all->size() == 10000);
    CHECK(*(*all)[9999].as_string() == body + "9999");
  });
}

TEST_CASE("replies many times the read buffer arrive whole while the buffer grows") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    auto cfg = config_for(server);
    cfg.read_buffer_size = 512;  // the smallest: replies straddle many reads
    cfg.read_buffer_max = 4096;  // and the buffer is replaced three times
    redis::connection conn(ex, cfg);
    co_await conn.async_connect();
    std::string big(1 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    redis::request req;
    req.push("SET", "big", big).push("GET", "big").push("STRLEN", "big").push("GET", "big");
    auto replies = co_await conn.async_exec(req);
    REQUIRE(replies.size() == 4);
    CHECK(*replies[1].as_string() == big);
    CHECK(*replies[2].as_integer() == 1 << 20);
    CHECK(*replies[3].as_string() == big);
  });
}

TEST_CASE("an address, or a name looked up in place, connects without Asio's resolver thread") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    const auto before = threads_of_this_process();
    auto cfg = config_for(server);
    REQUIRE(cfg.host == "127.0.0.1");
    redis::connection by_address(ex, cfg);
    co_await by_address.async_connect();
    CHECK(threads_of_this_process() == before);

    cfg.host = "localhost";
    cfg.resolve_in_place = true;
    redis::connection in_place(ex, cfg);
    co_await in_place.async_connect();
    CHECK(threads_of_this_process() == before);

    // Looked up the usual way, a name starts Asio's resolver thread: the
    // checks above would have seen it.
    cfg.resolve_in_place = false;
    redis::connection by_name(ex, cfg);
    co_await by_name.async_connect();
    CHECK(threads_of_this_process() == before + 1);

    redis::request ping;
    ping.push("PING");
    CHECK(*(co_await by_address.async_exec(ping))[0].as_string() == "PONG");
    CHECK(*(co_await in_place.async_exec(ping))[0].as_string() == "PONG");
    CHECK(*(co_await by_name.async_exec(ping))[0].as_string() == "PONG");
  });
}

TEST_CASE("a name that cannot be looked up in place fails the connect, naming the server") {
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::config cfg;
    cfg.host = "no-such-host.invalid";
    cfg.port = 6;
    cfg.resolve_in_place = true;
    redis::connection conn(ex, cfg);
    try {
      co_await conn.async_connect();
      FAIL("connect to a name that does not exist must throw");
    } catch (const boost::system::system_error& e) {
      CHECK(std::string(e.what()).find("no-such-host.invalid") != std::string::npos);
    }
    CHECK_FALSE(conn.is_connected());
  });
}

TEST_CASE("concurrent callers on one connection each get their own replies") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection conn(ex, config_for(server));
    co_await conn.async_connect();
    constexpr int callers = 40;
    constexpr int rounds = 50;
    int finished = 0;
    int mismatches = 0;
    for (int c = 0; c < callers; ++c) {
      asio::co_spawn(
          ex,
          [&conn, &finished, &mismatches, c]() -> awaitable<void> {
            const std::string key = "caller:" + std::to_string(c);
            for (int r = 1; r <= rounds; ++r) {
              redis::request req;
              // Pipelines of different lengths interleave on the wire.
              for (int k = 0; k < c % 3; ++k) req.push("PING");
              req.push("INCR", key).push("GET", key);
              auto replies = co_await conn.async_exec(req);
              const auto n = replies.size();
              if (n != static_cast<std::size_t>(c % 3 + 2) || *replies[n - 2].as_integer() != r ||
                  *replies[n - 1].as_string() != std::to_string(r)) {
                ++mismatches;
              }
            }
            ++finished;
          },
          asio::detached);
    }
    asio::steady_timer t(ex);
    for (int i = 0; i < 1000 && finished < callers; ++i) {
      t.expires_after(10ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    CHECK(finished == callers);
    CHECK(mismatches == 0);
  });
}

TEST_CASE("SELECT follows the db in the URL") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    auto cfg2 = config_for(server);
    cfg2.db = 2;
    cfg2.client_name = "celeriac-test";
    redis::connection db2(ex, cfg2);
    redis::connection db0(ex, config_for(server));
    co_await db2.async_connect();
    co_await db0.async_connect();
    redis::request set;
    set.push("SET", "only-in-2", "x").push("CLIENT", "GETNAME");
    auto r = co_await db2.async_exec(set);
    CHECK(*r[1].as_string() == "celeriac-test");
    redis::request get;
    get.push("EXISTS", "only-in-2");
    CHECK(*(co_await db0.async_exec(get))[0].as_integer() == 0);
    CHECK(*(co_await db2.async_exec(get))[0].as_integer() == 1);
  });
}

TEST_CASE("a client name an ACL refuses leaves the connection unnamed, not refused") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection admin(ex, config_for(server));
    co_await admin.async_connect();
    redis::request acl;
    acl.push("ACL", "SETUSER", "plain", "on", ">pw", "~*", "&*", "+@all", "-client");
    (void)co_await admin.async_exec(acl);
    auto cfg = config_for(server);
    cfg.username = "plain";
    cfg.password = "pw";
    cfg.client_name = "celeriac-test";
    redis::connection named(ex, cfg);
    co_await named.async_connect();
    redis::request ping;
    ping.push("PING");
    CHECK(*(co_await named.async_exec(ping))[0].as_string() == "PONG");
    redis::request list;
    list.push("CLIENT", "LIST");
    const std::string clients(*(co_await admin.async_exec(list))[0].as_string());
    CHECK(clients.find("user=plain") != std::string::npos);
    CHECK(clients.find("name=celeriac-test") == std::string::npos);
  });
}

TEST_CASE("BLMOVE with a timeout on a dedicated connection") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection blocking(ex, config_for(server));
    redis::connection other(ex, config_for(server));
    co_await blocking.async_connect();
    co_await other.async_connect();

    // Times out: nil after about the timeout.
    redis::request move;
    move.push("BLMOVE", "src", "dst", "LEFT", "RIGHT", 0.2);
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await blocking.async_exec(move);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(r[0].is_nil());
    CHECK(took >= 150ms);

    // Woken by a push from the other connection, which is never blocked.
    bool moved = false;
    resp::value got;
    asio::co_spawn(
        ex,
        [&]() -> awaitable<void> {
          redis::request m;
          m.push("BLMOVE", "src", "dst", "LEFT", "RIGHT", 5);
          got = std::move((co_await blocking.async_exec(m))[0]);
          moved = true;
        },
        asio::detached);
    asio::steady_timer t(ex, 100ms);
    co_await t.async_wait(asio::use_awaitable);
    CHECK_FALSE(moved);
    redis::request push;
    push.push("RPUSH", "src", "job-1");
    CHECK(*(co_await other.async_exec(push))[0].as_integer() == 1);
    co_await wait_for(moved);
    REQUIRE(moved);
    CHECK(*got.as_string() == "job-1");
    redis::request check;
    check.push("LRANGE", "dst", 0, -1);
    auto dst = co_await other.async_exec(check);
    CHECK(dst[0].to_debug_string() == R"(["job-1"])");
  });
}

TEST_CASE("a cancelled request leaves the connection usable and replies matched") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    redis::connection conn(ex, config_for(server));
    co_await conn.async_connect();
    redis::request slow;
    slow.push("BLPOP", "nothing", 0.3);
    asio::steady_timer t(ex, 50ms);
    auto winner = co_await (conn.async_exec(slow) || t.async_wait(asio::use_awaitable));
    CHECK(winner.index() == 1);
    CHECK(conn.is_connected());
    // The BLPOP's late nil is discarded; PING gets PONG, not that nil.
    redis::request ping;
    ping.push("ECHO", "mine");
    auto r = co_await conn.async_exec(ping);
    CHECK(*r[0].as_string() == "mine");
  });
}

TEST_CASE("close() fails waiting requests with error::closed; later calls get not_connected") {
  test::redis_server server;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection conn(ex, config_for(server));
    co_await conn.async_connect();
    boost::system::error_code seen;
    bool done = false;
    asio::co_spawn(
        ex,
        [&]() -> awaitable<void> {
          redis::request block;
          block.push("BLPOP", "nothing", 5);
          try {
            co_await conn.async_exec(block);
          } catch (const boost::system::system_error& e) {
            seen = e.code();
          }
          done = true;
        },
        asio::detached);
    asio::steady_timer t(ex, 50ms);
    co_await t.async_wait(asio::use_awaitable);
    conn.close();
    co_await wait_for(done);
    CHECK(seen == redis::error::closed);
    redis::request ping;
    ping.push("PING");
    try {
      co_await conn.async_exec(ping);
      FAIL("exec on a closed connection must throw");
    } catch (const boost::system::system_error& e) {
      CHECK(e.code() == redis::error::not_connected);
      CHECK(std::string(e.what()).find("127.0.0.1") != std::string::npos);
    }
  });
}

TEST_CASE("connect failures name the server") {
  const auto port = test::free_port();  // nothing listens there
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    auto cfg = *redis::parse_url("redis://:secret@127.0.0.1:" + std::to_string(port) + "/0");
    redis::connection conn(ex, cfg);
    try {
      co_await conn.async_connect();
      FAIL("connect to a closed port must throw");
    } catch (const boost::system::system_error& e) {
      const std::string what = e.what();
      CHECK(what.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
      CHECK(what.find("secret") == std::string::npos);
      CHECK(e.code() == asio::error::connection_refused);
    }
    CHECK_FALSE(conn.is_connected());
  });
}

TEST_CASE("connect times out when the server never answers the handshake") {
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    // A listener that accepts TCP (backlog) but never replies to SELECT.
    asio::ip::tcp::acceptor mute(ex, {asio::ip::make_address("127.0.0.1"), 0});
    redis::config cfg;
    cfg.host = "127.0.0.1";
    cfg.port = mute.local_endpoint().port();
    cfg.db = 1;
    cfg.connect_timeout = 200ms;
    redis::connection conn(ex, cfg);
    const auto start = std::chrono::steady_clock::now();
    try {
      co_await conn.async_connect();
      FAIL("connect must time out");
    } catch (const boost::system::system_error& e) {
      CHECK(e.code() == redis::error::connect_timeout);
    }
    CHECK(std::chrono::steady_clock::now() - start < 2s);
  });
}

TEST_CASE("garbage from the server breaks the connection with a resp error") {
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    asio::ip::tcp::acceptor fake(ex, {asio::ip::make_address("127.0.0.1"), 0});
    redis::config cfg;
    cfg.host = "127.0.0.1";
    cfg.port = fake.local_endpoint().port();
    redis::connection conn(ex, cfg);
    co_await conn.async_connect();  // no AUTH/SELECT: nothing to answer yet
    auto peer = co_await fake.async_accept(asio::use_awaitable);
    redis::request ping;
    ping.push("PING");
    asio::co_spawn(
        ex,
        [&peer]() -> awaitable<void> {
          co_await asio::async_write(peer, asio::buffer(std::string_view("?garbage\r\n")),
                                     asio::use_awaitable);
        },
        asio::detached);
    try {
      co_await conn.async_exec(ping);
      FAIL("a garbage reply must throw");
    } catch (const boost::system::system_error& e) {
      CHECK(e.code() == resp::error::invalid_type_byte);
    }
    CHECK_FALSE(conn.is_connected());
  });
}

TEST_CASE("AUTH with --requirepass") {
  test::redis_server server({"--requirepass", "s3cret"});
  const std::string port = std::to_string(server.port());
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    redis::connection good(ex, *redis::parse_url("redis://:s3cret@127.0.0.1:" + port + "/0"));
    co_await good.async_connect();
    redis::request ping;
    ping.push("PING");
    CHECK(*(co_await good.async_exec(ping))[0].as_string() == "PONG");

    redis::connection acl(ex, *redis::parse_url("redis://default:s3cret@127.0.0.1:" + port));
    co_await acl.async_connect();
    CHECK(*(co_await acl.async_exec(ping))[0].as_string() == "PONG");

    redis::connection bad(ex, *redis::parse_url("redis://:wrong@127.0.0.1:" + port + "/0"));
    try {
      co_await bad.async_connect();
      FAIL("a wrong password must be refused");
    } catch (const boost::system::system_error& e) {
      CHECK(e.code() == redis::error::auth_failed);
      const std::string what = e.what();
      CHECK(what.find("WRONGPASS") != std::string::npos);
      CHECK(what.find("wrong") == std::string::npos);  // the password is not shown
    }
    CHECK_FALSE(bad.is_connected());

    // Without a password the connection opens; commands answer NOAUTH.
    redis::connection anonymous(ex, *redis::parse_url("redis://127.0.0.1:" + port));
    co_await anonymous.async_connect();
    CHECK((co_await anonymous.async_exec(ping))[0].error_kind() == "NOAUTH");
  });
}
