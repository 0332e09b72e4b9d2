#include "redis/request.hpp"

#include <doctest/doctest.h>

#include <list>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

using celeriac::redis::request;

TEST_CASE("push serializes strings and numbers as bulk strings") {
  request req;
  const std::string key = "k";
  req.push("SET", key, "v").push("EXPIRE", key, 60).push("INCRBYFLOAT", key, 1.5);
  CHECK(req.payload() ==
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        "*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n60\r\n"
        "*3\r\n$11\r\nINCRBYFLOAT\r\n$1\r\nk\r\n$3\r\n1.5\r\n");
  CHECK(req.expected_replies() == 3);
  CHECK(req.commands() == 3);
  CHECK_FALSE(req.has_pubsub());
}

TEST_CASE("push handles negative, unsigned and extreme numbers") {
  request req;
  req.push("X", -1, 18446744073709551615ULL, std::int64_t{-9223372036854775807LL - 1}, 0.1);
  CHECK(req.payload() ==
        "*5\r\n$1\r\nX\r\n$2\r\n-1\r\n$20\r\n18446744073709551615\r\n"
        "$20\r\n-9223372036854775808\r\n$3\r\n0.1\r\n");
}

TEST_CASE("ranges expand in place, pairs as key then value") {
  request req;
  std::vector<std::string> items = {"a", "b"};
  req.push("RPUSH", "q", items);
  CHECK(req.payload() == "*4\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\nb\r\n");

  request hset;
  std::map<std::string, int> fields = {{"f1", 1}, {"f2", 2}};
  hset.push("HSET", "h", fields);
  CHECK(hset.payload() ==
        "*6\r\n$4\r\nHSET\r\n$1\r\nh\r\n$2\r\nf1\r\n$1\r\n1\r\n$2\r\nf2\r\n$1\r\n2\r\n");

  request mixed;
  std::vector<long> numbers = {1, 2};
  mixed.push("ZADD", "z", numbers, "tail", std::vector<std::string>{});
  CHECK(mixed.payload() ==
        "*5\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\n2\r\n$4\r\ntail\r\n");
}

TEST_CASE("push_range takes iterators or a range") {
  std::list<std::string> items = {"x", "y", "z"};
  request a;
  a.push_range("LPUSH", "q", items.begin(), items.end());
  request b;
  b.push_range("LPUSH", "q", items);
  request c;
  c.push("LPUSH", "q", "x", "y", "z");
  CHECK(a.payload() == c.payload());
  CHECK(b.payload() == c.payload());
  CHECK(a.expected_replies() == 1);
}

TEST_CASE("pub/sub commands expect one reply per channel") {
  request req;
  req.push("SUBSCRIBE", "a", "b", "c").push("psubscribe", "p*").push("PING");
  CHECK(req.expected_replies() == 5);
  CHECK(req.has_pubsub());
  request unsub;
  unsub.push("UNSUBSCRIBE", std::vector<std::string>{"a", "b"});
  CHECK(unsub.expected_replies() == 2);
  request bad_subscribe;
  bad_subscribe.push("SUBSCRIBE");  // the server answers one error
  CHECK(bad_subscribe.expected_replies() == 1);
}

TEST_CASE("UNSUBSCRIBE without channels is refused and leaves the request unchanged") {
  request req;
  req.push("PING");
  const std::string before{req.payload()};
  CHECK_THROWS_AS(req.push("UNSUBSCRIBE"), std::invalid_argument);
  CHECK_THROWS_AS(req.push("punsubscribe"), std::invalid_argument);
  CHECK(req.payload() == before);
  CHECK(req.expected_replies() == 1);
  CHECK(req.commands() == 1);
}

TEST_CASE("clear empties the request") {
  request req;
  req.push("SUBSCRIBE", "a");
  req.clear();
  CHECK(req.empty());
  CHECK(req.payload().empty());
  CHECK(req.expected_replies() == 0);
  CHECK_FALSE(req.has_pubsub());
}
