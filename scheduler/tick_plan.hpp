#pragma once
// Which ticks of one entry to send now: the rule that tells a leader
// takeover (send every tick) from a time when no beat ran at all (the
// entry's `missed` policy).
//
// Given the entry's last fired tick `last` and the time `now`, the due
// ticks are those in (last, now]. They split at `now - window`:
//
//   recent ticks, in (max(last, now - window), now]
//     fell due during a takeover, a restart or a stall shorter than the
//     window: EVERY one is sent, oldest first. The window is twice the
//     lease time, longer than the worst takeover (lease expiry plus one
//     standby poll), so a dead leader's ticks are never collapsed.
//   missed ticks, in (last, now - window]
//     fell due while no beat instance ran: the entry's `missed` policy
//     applies.
//       run_once: one catch-up run. If recent ticks are being sent, the
//         missed ones collapse into the first of them (no extra message);
//         otherwise one message is sent for the latest missed tick.
//       skip: none is sent. If no recent tick is sent either, the latest
//         missed tick is recorded as fired without a message, so the
//         entry carries on from the next tick.
//
// In the steady state, with `last` the previous tick, this yields exactly
// the one tick that just fell due. Pure: no clock, no I/O.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "scheduler/schedule_entry.hpp"

namespace celeriac::scheduler {

// Most recent ticks sent one by one in a single plan; older recent ticks
// beyond it are treated as missed. Reached only with a lease far longer
// than the period (e.g. every 1s with a 10-minute lease).
inline constexpr std::size_t max_recent_sends = 1000;

struct tick_plan {
  std::vector<std::chrono::sys_seconds> send;      // ticks to send, oldest first
  std::optional<std::chrono::sys_seconds> record;  // skip policy: mark this tick fired, send nothing
  std::uint64_t missed = 0;     // ticks that fell due while no beat ran (a lower bound when missed_capped)
  bool missed_capped = false;
  std::optional<std::chrono::sys_seconds> missed_first;  // earliest and latest missed tick
  std::optional<std::chrono::sys_seconds> missed_last;
  std::uint64_t not_sent = 0;   // missed ticks that get no message of their own (collapsed or skipped)

  bool empty() const noexcept { return send.empty() && !record; }
};

// The plan for `entry` whose last fired tick is `last`, at time `now`,
// with takeover window `window` (twice the lease). A `last` at or after
// `now` (another instance's clock runs ahead) gives an empty plan.
tick_plan plan_ticks(const schedule_entry& entry, std::chrono::sys_seconds last, std::chrono::sys_seconds now,
                     std::chrono::seconds window);

}  // namespace celeriac::scheduler
