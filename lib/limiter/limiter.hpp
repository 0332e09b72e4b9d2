#pragma once
// Cluster-wide rate limits in Redis: a sliding-window log per limit, so the
// sum of charges in ANY window of the limit's length stays within it —
// what a provider enforcing "500 requests per minute" expects, and what a
// token bucket that starts full (2x the limit in its first window) would
// not give.
//
// One Lua script per charge: it drops entries older than the window,
// checks every limit of the charge, and records all of them or none (a
// call charged 1 request and 800 tokens gets both or waits). Time is
// Redis's TIME, so hosts with skewed clocks agree. A charge larger than a
// whole limit is granted only when that limit's window is empty, so an
// oversize call waits for a quiet window instead of forever.
//
//   limiter::limit rpm{"celeriac:limit:llm:openai:rpm", 500, 60s};
//   limiter::charge c[] = {{&rpm, 1}, {&tpm, estimate}};
//   std::string id = co_await limiter::async_acquire(conn, c, deadline);
//   ... make the call ...
//   co_await limiter::async_adjust(conn, tpm, id, real_tokens - estimate);
//
// Keys per limit, sharing a hash tag: {key}:log (sorted set of charge ids
// by time), {key}:amounts (hash id -> amount), {key}:sum; all expire one
// window after their last charge.

#include <chrono>
#include <span>
#include <stdexcept>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "limiter/rate.hpp"
#include "redis/connection.hpp"

namespace celeriac::limiter {

struct charge {
  const limit* lim = nullptr;
  double amount = 0;
};

struct decision {
  bool granted = false;
  std::chrono::milliseconds retry_after{0};  // when refused: the wait until all of it could be granted
  std::string id;                            // when granted: the charge's id, for async_adjust
};

class deadline_exceeded : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Charges now or not at all.
boost::asio::awaitable<decision> async_try_charge(redis::connection& conn, std::span<const charge> charges);

// Charges, waiting (on the coroutine's executor) as long as needed up to
// `deadline`; returns the charge id. Throws deadline_exceeded naming the
// limit that had no room.
boost::asio::awaitable<std::string> async_acquire(redis::connection& conn, std::span<const charge> charges,
                                                  std::chrono::steady_clock::time_point deadline);

// Corrects a granted charge by `delta` (the real amount minus the
// estimate): more frees less room, less frees more. A charge that has left
// the window already is not counted any more, and is left alone.
boost::asio::awaitable<void> async_adjust(redis::connection& conn, const limit& lim, const std::string& id,
                                          double delta);

}  // namespace celeriac::limiter
