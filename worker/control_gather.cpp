#include "worker/control_gather.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include "json/dump.hpp"
#include "json/parse.hpp"
#include "util/log.hpp"

namespace celeriac::worker {

namespace {
// Long enough for the first child to read the parts, short enough that a
// request nobody collected (the first child died) leaves nothing behind.
constexpr int part_ttl_seconds = 10;
constexpr std::chrono::milliseconds poll_every{3};
}  // namespace

std::string gather_key(std::string_view node, std::string_view ticket) {
  return fmt::format("celeriac.control.{}.{}", node, ticket);
}

boost::asio::awaitable<void> async_contribute(redis::connection& conn, const std::string& key, json::value part) {
  redis::request req;
  req.push("RPUSH", key, json::dump(part, json::style::compact));
  req.push("EXPIRE", key, part_ttl_seconds);
  co_await conn.async_exec(req);
}

boost::asio::awaitable<std::vector<json::value>> async_collect(redis::connection& conn, const std::string& key,
                                                               std::size_t expected,
                                                               std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  redis::request count;
  count.push("LLEN", key);
  while (expected > 0 && std::chrono::steady_clock::now() < deadline) {
    auto replies = co_await conn.async_exec(count);
    auto n = replies.at(0).as_integer();
    if (n && static_cast<std::size_t>(*n) >= expected) break;
    timer.expires_after(poll_every);
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
  redis::request take;
  take.push("LRANGE", key, 0, -1);
  take.push("DEL", key);
  auto replies = co_await conn.async_exec(take);
  std::vector<json::value> parts;
  auto elements = replies.at(0).elements();
  if (!elements) co_return parts;
  for (const auto& e : *elements) {
    auto text = e.as_string();
    if (!text) continue;
    auto v = json::parse(*text);
    if (!v) {
      log::warning("remote control: a worker child's part in {} is not JSON; left out", key);
      continue;
    }
    parts.push_back(std::move(*v));
  }
  if (parts.size() < expected)
    log::debug("remote control: {} of {} children answered in {} ms", parts.size(), expected, limit.count());
  co_return parts;
}

}  // namespace celeriac::worker
