#include "redis/error.hpp"
#include "redis/sync_client.hpp"
#include "support/redis_server.hpp"

#include <doctest/doctest.h>

#include <boost/system/system_error.hpp>

#include <chrono>

using namespace std::chrono_literals;
using namespace celeriac;

TEST_CASE("sync_client runs commands and pipelines") {
  test::redis_server server;
  redis::sync_client client(*redis::parse_url(server.url()));
  client.connect();
  CHECK(client.is_connected());
  CHECK(*client.command("PING").as_string() == "PONG");
  CHECK(*client.command("INCRBY", "n", 5).as_integer() == 5);
  redis::request req;
  req.push("SET", "k", "v").push("GET", "k");
  auto replies = client.exec(req);
  REQUIRE(replies.size() == 2);
  CHECK(*replies[1].as_string() == "v");
}

TEST_CASE("sync_client times out and stays usable") {
  test::redis_server server;
  redis::sync_client client(*redis::parse_url(server.url()), 100ms);
  client.connect();
  redis::request block;
  block.push("BLPOP", "nothing", 0.5);
  try {
    client.exec(block);
    FAIL("must time out");
  } catch (const boost::system::system_error& e) {
    CHECK(e.code() == redis::error::timeout);
  }
  redis::request echo;
  echo.push("ECHO", "after");
  CHECK(*client.exec(echo, 2s)[0].as_string() == "after");
}

TEST_CASE("sync_client connect failure throws system_error") {
  redis::config cfg;
  cfg.host = "127.0.0.1";
  cfg.port = test::free_port();
  redis::sync_client client(cfg);
  CHECK_THROWS_AS(client.connect(), boost::system::system_error);
  CHECK_FALSE(client.is_connected());
}
