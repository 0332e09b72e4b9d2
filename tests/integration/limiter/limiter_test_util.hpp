// Helpers for the limiter integration tests: run a coroutine on its own
// connection, and read numbers back from Redis.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "limiter/limiter.hpp"
#include "redis/config.hpp"
#include "redis/connection.hpp"
#include "redis/sync_client.hpp"

namespace celeriac::test {

// Runs `body` on a fresh io_context with a connection to `url`, until it
// ends; rethrows what it throws.
inline void run_on_redis(const std::string& url,
                         const std::function<boost::asio::awaitable<void>(redis::connection&)>& body) {
  boost::asio::io_context io;
  redis::connection conn(io.get_executor(), *redis::parse_url(url));
  auto whole = [&]() -> boost::asio::awaitable<void> {
    co_await conn.async_connect();
    co_await body(conn);
  };
  std::exception_ptr error;
  bool done = false;
  boost::asio::co_spawn(io, whole(), [&](std::exception_ptr e) {
    error = e;
    done = true;
    conn.close();
    io.stop();
  });
  io.run();
  REQUIRE_MESSAGE(done, "the test coroutine never finished");
  if (error) std::rethrow_exception(error);
}

// The largest number of `times` (sorted, in seconds) inside one window
// [t, t + width) that starts at any of them; windows starting elsewhere
// hold no more than the one starting at their first time.
inline std::size_t busiest_window(const std::vector<double>& times, double width) {
  std::size_t worst = 0;
  for (std::size_t first = 0, end = 0; first < times.size(); ++first) {
    while (end < times.size() && times[end] < times[first] + width) ++end;
    worst = std::max(worst, end - first);
  }
  return worst;
}

inline limiter::decision try_charge(const std::string& url, std::vector<limiter::charge> charges) {
  limiter::decision d;
  run_on_redis(url, [&](redis::connection& conn) -> boost::asio::awaitable<void> {
    d = co_await limiter::async_try_charge(conn, charges);
  });
  return d;
}

inline limiter::adjustment adjust(const std::string& url, const limiter::limit& lim, const std::string& id,
                                  double delta) {
  limiter::adjustment a{};
  run_on_redis(url, [&](redis::connection& conn) -> boost::asio::awaitable<void> {
    a = co_await limiter::async_adjust(conn, lim, id, delta);
  });
  return a;
}

// Direct reads of a limit's keys, to see what the scripts recorded.
class limit_probe {
 public:
  explicit limit_probe(const std::string& url) : client_(*redis::parse_url(url)) { client_.connect(); }

  // Entries in the limit's log.
  std::int64_t entries(const limiter::limit& lim) {
    return client_.command("ZCARD", limiter::keys_for(lim).log).as_integer().value();
  }
  // The running sum (0 when the key is absent).
  double sum(const limiter::limit& lim) {
    auto reply = client_.command("GET", limiter::keys_for(lim).sum);
    return reply.is_nil() ? 0 : std::stod(std::string(reply.as_string().value()));
  }
  // How many of the limit's three keys exist.
  std::int64_t keys_present(const limiter::limit& lim) {
    auto k = limiter::keys_for(lim);
    return client_.command("EXISTS", k.log, k.amounts, k.sum).as_integer().value();
  }
  // The Redis times (µs) of the log's entries, oldest first.
  std::vector<double> times(const limiter::limit& lim) {
    auto reply = client_.command("ZRANGE", limiter::keys_for(lim).log, 0, -1, "WITHSCORES");
    std::vector<double> out;
    auto items = reply.elements().value();
    for (std::size_t i = 1; i < items.size(); i += 2) out.push_back(std::stod(std::string(items[i].as_string().value())));
    return out;
  }
  redis::sync_client& client() { return client_; }

 private:
  redis::sync_client client_;
};

}  // namespace celeriac::test
