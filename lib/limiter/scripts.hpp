#pragma once
// The Lua scripts behind lib/limiter; their KEYS and ARGV are built by
// charge_call.hpp and pacing.hpp. Each runs atomically in Redis and reads the time with
// TIME (Redis 7 replicates a script's effects, so that is allowed).

#include "redis/script.hpp"

namespace celeriac::limiter::scripts {

// KEYS: per limit, its log, amounts and sum (limit_keys). ARGV[1]: the
// charge id; then per limit: the amount allowed per window, the window in
// ms, the amount charged. Drops what has left each window, then records
// every amount (at the current Redis time) or none. Returns {1} when all
// were recorded, else {0, ms until all could be, 1-based index of the
// limit needing the longest wait}.
const redis::script& charge();

// KEYS: one limit's log, amounts and sum. ARGV: the charge id, the signed
// correction, the window in ms. Returns "adjusted" (the entry's amount
// changed in place), "dropped" (it fell to zero: the entry is gone),
// "recorded" (the entry had left the window and the correction is
// positive: it is recorded as a new entry at the current time) or "gone"
// (it had left the window and the correction gives back: nothing to do).
const redis::script& adjust();

// GCRA admission of task runs (admission.hpp). KEYS[1]: the limit's key,
// a string holding its theoretical arrival time (TAT, Redis µs). ARGV: the
// interval and the tolerance in µs (pacing), the number of runs asking.
// Admits the runs whose slots (TAT, TAT + interval, ...) start no later
// than now + tolerance, up to the number asking, and moves the TAT past
// them (a TAT further ahead than this pacing allows, left by a slower
// limit, is first brought back to one interval past the tolerance). Returns {runs admitted, µs until the next run could be (0: now),
// the Redis time of the decision in µs}.
const redis::script& admit();

}  // namespace celeriac::limiter::scripts
