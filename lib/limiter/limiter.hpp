#pragma once
// Cluster-wide rate limits in Redis: a sliding-window log per limit, so
// the sum of charges in ANY window of the limit's length stays within it —
// what a provider enforcing "500 requests per minute" expects, and what a
// token bucket that starts full (2x the limit in its first window) would
// not give. docs/rate-limits.md has the whole design.
//
// One Lua script per charge: it drops entries that have left the window,
// checks every limit of the charge, and records all of them or none (a
// call charged 1 request and 800 tokens gets both or waits). Time is
// Redis's TIME, so hosts with skewed clocks agree. A charge larger than a
// whole limit is granted only when that limit's window is empty, so an
// oversize call waits for a quiet window instead of forever.
//
//   limiter::limit rpm{"celeriac:limit:llm:openai:rpm", 500, 60s};
//   limiter::limit tpm{"celeriac:limit:llm:openai:tpm", 200'000, 60s};
//   limiter::charge c[] = {{&rpm, 1}, {&tpm, estimate}};
//   std::string id = co_await limiter::async_acquire(conn, c, deadline);
//   ... make the call ...
//   co_await limiter::async_adjust(conn, tpm, id, real_tokens - estimate);
//
// Each call is one EVALSHA (loaded again after NOSCRIPT) on `conn`, which
// must be connected and used from its executor, as every redis::connection.
// Redis errors throw like redis::async_exec; a script error throws
// std::runtime_error; a malformed limit or charge throws
// std::invalid_argument before anything is sent.

#include <chrono>
#include <span>
#include <stdexcept>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "limiter/charge_call.hpp"
#include "limiter/rate.hpp"
#include "redis/connection.hpp"

namespace celeriac::limiter {

class deadline_exceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Charges every limit now, or none of them. An empty charge is granted
// without asking Redis.
boost::asio::awaitable<decision> async_try_charge(redis::connection& conn, std::span<const charge> charges);

// Charges, waiting as long as needed up to `deadline`, and returns the
// charge id. Between tries it sleeps the wait Redis named plus a little
// jitter (so waiters freed by one expiry do not all come back at once),
// never past the deadline, on a timer of the coroutine's executor; it
// tries one last time at the deadline, since corrections may free room
// sooner than the wait said. Throws deadline_exceeded naming the limit
// that had no room; cancelling the coroutine throws operation_aborted.
boost::asio::awaitable<std::string> async_acquire(redis::connection& conn, std::span<const charge> charges,
                                                  std::chrono::steady_clock::time_point deadline);

// What a correction did.
enum class adjustment {
  adjusted,  // the charge is still in its window: its amount changed in place
  dropped,   // the correction brought it to zero or below: the charge is gone
  recorded,  // it had left the window and more was used: `delta` counts from now
  gone,      // it had left the window and less was used: nothing to give back
};

// Corrects a granted charge of `lim` by `delta` (the real amount minus the
// estimate). A charge still in its window changes in place: less used
// frees room for exactly the rest of its time in the window, more used
// takes more (an amount never goes below zero). A charge that has left the
// window gives nothing back; extra use after it is recorded from now on,
// so a call longer than the window is still counted.
boost::asio::awaitable<adjustment> async_adjust(redis::connection& conn, const limit& lim, const std::string& id,
                                                double delta);

}  // namespace celeriac::limiter
