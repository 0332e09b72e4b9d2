#pragma once
// Admission of task runs under a per-task rate limit, cluster-wide: GCRA
// (the generic cell rate algorithm) in one Lua script per call, with one
// key per limit holding the time the next run's slot starts. O(1) time and
// memory per limit, whatever its rate. Time is Redis's TIME, so workers on
// hosts with skewed clocks agree.
//
// The guarantee: at most N runs start in ANY window of length T of a limit
// "N per T", across every worker on the Redis. With the default burst of 1
// runs are spaced T / N apart (Celery's pacing, per worker there); a larger
// burst lets that many start at once after a quiet spell, paid for by a
// lower steady rate (pacing.hpp). docs/rate-limits.md, "Per-task rate
// limits", has the design and the measurements against the sliding-window
// log of limiter.hpp.
//
//   limiter::limit lim{"celeriac:limit:task:tasks.add", 100, 1s};
//   auto a = co_await limiter::async_admit(conn, lim);
//   if (!a.admitted) defer the run by a.retry_after (to Redis's delayed set)
//
// A refused call changes nothing in Redis (unless the limit was made
// faster since the last admission: the new pacing then starts as if a run
// had just been admitted, instead of waiting out the old one); an admitted
// run holds its slot whether or not it then runs. Each call is one EVALSHA (loaded again after
// NOSCRIPT) on `conn`, used from its executor. Redis errors throw like
// redis::async_exec, a script error std::runtime_error, a malformed limit
// or burst std::invalid_argument before anything is sent.

#include <chrono>
#include <cstddef>

#include <boost/asio/awaitable.hpp>

#include "limiter/pacing.hpp"
#include "limiter/rate.hpp"
#include "redis/connection.hpp"

namespace celeriac::limiter {

struct admission {
  bool admitted = false;
  // From the decision until the next run could be admitted, if nobody else
  // takes the slot: for a refused run its wait (retried then it is
  // admitted, before then it is not); for an admitted one the next run's.
  std::chrono::microseconds retry_after{0};
  // Redis TIME of the decision, since the Unix epoch.
  std::chrono::microseconds decided_at{0};
};

// May one run start now?
boost::asio::awaitable<admission> async_admit(redis::connection& conn, const limit& lim, unsigned burst = 1);

struct batch_admission {
  // The first `admitted` of the runs asked for may start now.
  std::size_t admitted = 0;
  // Until the first run not admitted could be (0 when all were and the
  // next could be too).
  std::chrono::microseconds retry_after{0};
  // The spacing of the slots after that one (rounded up to whole µs): the
  // k-th refused run (k = 0, 1, ...) is due retry_after + k * interval
  // after the decision, if nobody else takes those slots.
  std::chrono::microseconds interval{0};
  std::chrono::microseconds decided_at{0};
};

// Admits as many as possible of `runs` queued runs of the limit's task
// (runs >= 1) in one script call: those whose slots start by now.
boost::asio::awaitable<batch_admission> async_admit_batch(redis::connection& conn, const limit& lim,
                                                          std::size_t runs, unsigned burst = 1);

}  // namespace celeriac::limiter
