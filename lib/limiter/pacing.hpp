#pragma once
// The pure half of admitting task runs (admission.hpp): a limit turned into
// GCRA pacing, the admit script's arguments, its reply. No I/O.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "limiter/charge_call.hpp"
#include "limiter/rate.hpp"
#include "resp/value.hpp"

namespace celeriac::limiter {

using fractional_micros = std::chrono::duration<double, std::micro>;

// How runs of a limit of N per window T are spaced: one slot every
// `interval`, and a run may take its slot up to `tolerance` early, so that
// `burst` runs can start at once after a quiet spell.
//
// interval = T / (N - burst + 1) and tolerance = (burst - 1) * interval, so
// that at most N runs start in ANY window of length T, whatever the burst:
// the runs a burst takes early are paid back by a longer interval. With
// burst 1 (the default) runs are spaced exactly T / N apart — Celery's own
// pacing (a token bucket of capacity 1), at the full rate.
struct pacing {
  fractional_micros interval{0};
  fractional_micros tolerance{0};
};

// Throws std::invalid_argument naming the limit when it is malformed
// (check_limit) or the burst is 0 or not below N + 1.
pacing pacing_for(const limit& lim, unsigned burst = 1);

// KEYS and ARGV of one admit call for `runs` runs (runs >= 1).
script_call admit_call(const limit& lim, const pacing& p, std::size_t runs);

// The admit script's reply, read.
struct admit_reply {
  std::size_t admitted = 0;                 // runs that may start now
  std::chrono::microseconds wait{0};        // until the next run could be admitted (0: now)
  std::chrono::microseconds decided_at{0};  // Redis TIME of the decision, since the Unix epoch
};

// Reads {admitted, wait µs, Redis µs}. Throws std::runtime_error quoting a
// reply of another shape (a script error, more runs admitted than asked,
// a refusal without a wait).
admit_reply read_admit_reply(const resp::value& reply, const limit& lim, std::size_t runs);

}  // namespace celeriac::limiter
