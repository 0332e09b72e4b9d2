#pragma once
// Reads the run-time rate limits (`celeriac rate-limit`) from Redis: one
// HGETALL of celeriac.rate_limits, cheap enough for a worker to poll every
// couple of seconds. task_rates.hpp says what the values mean.

#include <boost/asio/awaitable.hpp>

#include "limiter/task_rates.hpp"
#include "redis/connection.hpp"

namespace celeriac::limiter {

// The whole hash, parsed; entries that do not parse are in `bad`. Throws
// like redis::async_exec, and std::runtime_error when the key holds
// something other than a hash (naming the key and what to do).
boost::asio::awaitable<runtime_rates> async_read_runtime_rates(redis::connection& conn);

}  // namespace celeriac::limiter
