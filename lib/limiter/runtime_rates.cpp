#include "limiter/runtime_rates.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "redis/request.hpp"

namespace celeriac::limiter {

boost::asio::awaitable<runtime_rates> async_read_runtime_rates(redis::connection& conn) {
  redis::request req;
  req.push("HGETALL", runtime_rates_key);
  const std::vector<resp::value> replies = co_await conn.async_exec(req);
  const resp::value& reply = replies.at(0);
  if (reply.is_error())
    throw std::runtime_error(fmt::format("reading the run-time rate limits from {} failed: {} (is the key something "
                                         "other than a hash? `celeriac rate-limit` keeps it)",
                                         runtime_rates_key, reply.error_message()));
  co_return read_runtime_rates(reply);
}

}  // namespace celeriac::limiter
