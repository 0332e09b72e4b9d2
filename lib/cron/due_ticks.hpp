#pragma once
// Which ticks of a schedule fell due in a window: what beat needs when it
// starts (or takes over) after a time in which no instance ran.
//
// A tick is named by its scheduled time (sys_seconds), so every instance
// that looks at the same window names the same ticks. Counting is bounded:
// a months-long outage on a per-minute schedule costs at most `count_limit`
// steps and no allocation, and the last tick is found by bisection, not by
// walking every tick.

#include <chrono>
#include <cstdint>
#include <optional>

#include <date/tz.h>

#include "cron/schedule.hpp"

namespace celeriac::cron {

struct due_ticks {
  std::uint64_t count = 0;                     // ticks in the window; a lower bound when capped
  bool capped = false;                         // more than count_limit ticks: count stopped there
  std::optional<std::chrono::sys_seconds> first;  // earliest tick in the window, if any
  std::optional<std::chrono::sys_seconds> last;   // latest tick: the one a catch-up run names
};

// Default bound on the ticks counted one by one (cron only; interval counts
// are computed, exact and never capped).
inline constexpr std::uint64_t default_count_limit = 10'000;

// Returns the ticks of `s` in the half-open window (after, until] in `zone`
// (nullptr = UTC). An empty window (until <= after) has no ticks. `first`
// and `last` are exact whatever the count; `count` is exact unless `capped`.
due_ticks find_due_ticks(const schedule& s, std::chrono::sys_seconds after, std::chrono::sys_seconds until,
                         const date::time_zone* zone, std::uint64_t count_limit = default_count_limit);

}  // namespace celeriac::cron
