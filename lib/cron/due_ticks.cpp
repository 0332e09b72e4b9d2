#include "cron/due_ticks.hpp"

namespace celeriac::cron {

namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// The latest tick at or before `until`, given that next_after(lo) is one.
// next_after is non-decreasing, so the largest s in [lo, until) with
// next_after(s) <= until is found by bisection; its next tick is the answer.
sys_seconds last_tick(const schedule& s, sys_seconds lo, sys_seconds until, const date::time_zone* zone) {
  sys_seconds hi = until;  // next_after(hi) > until always
  while (hi - lo > seconds{1}) {
    const sys_seconds mid = lo + (hi - lo) / 2;
    if (s.next_after(mid, zone) <= until)
      lo = mid;
    else
      hi = mid;
  }
  return s.next_after(lo, zone);
}

}  // namespace

due_ticks find_due_ticks(const schedule& s, sys_seconds after, sys_seconds until, const date::time_zone* zone,
                         std::uint64_t count_limit) {
  due_ticks out;
  if (until <= after) return out;
  if (count_limit == 0) count_limit = 1;
  const sys_seconds first = s.next_after(after, zone);
  if (first > until) return out;
  out.first = first;

  if (const auto* every = s.interval()) {
    const sys_seconds last = every->last_at_or_before(until);
    out.last = last;
    out.count = static_cast<std::uint64_t>((last - first) / every->period()) + 1;
    return out;
  }

  out.last = last_tick(s, after, until, zone);
  sys_seconds tick = first;
  while (true) {
    ++out.count;
    if (tick == *out.last) break;
    if (out.count >= count_limit) {
      out.capped = true;
      break;
    }
    tick = s.next_after(tick, zone);
  }
  return out;
}

}  // namespace celeriac::cron
