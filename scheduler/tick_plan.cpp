#include "scheduler/tick_plan.hpp"

#include <algorithm>
#include <deque>

#include "cron/due_ticks.hpp"

namespace celeriac::scheduler {

tick_plan plan_ticks(const schedule_entry& entry, std::chrono::sys_seconds last, std::chrono::sys_seconds now,
                     std::chrono::seconds window) {
  tick_plan plan;
  if (now <= last) return plan;
  const std::chrono::sys_seconds recent_after = std::max(last, now - window);

  // Missed: (last, recent_after]. Counted, never listed.
  if (recent_after > last) {
    const cron::due_ticks missed = cron::find_due_ticks(entry.when, last, recent_after, entry.timezone);
    plan.missed = missed.count;
    plan.missed_capped = missed.capped;
    plan.missed_first = missed.first;
    plan.missed_last = missed.last;
  }

  // Recent: (recent_after, now], listed; the oldest beyond the cap become missed.
  std::deque<std::chrono::sys_seconds> recent;
  for (auto t = entry.next_after(recent_after); t <= now; t = entry.next_after(t)) {
    recent.push_back(t);
    if (recent.size() > max_recent_sends) {
      if (!plan.missed_first) plan.missed_first = recent.front();
      plan.missed_last = recent.front();
      ++plan.missed;
      recent.pop_front();
    }
  }
  plan.send.assign(recent.begin(), recent.end());

  if (plan.missed == 0) return plan;
  switch (entry.missed) {
    case missed_policy::run_once:
      if (plan.send.empty()) {
        plan.send.push_back(*plan.missed_last);
        plan.not_sent = plan.missed - 1;
      } else {
        plan.not_sent = plan.missed;  // collapsed into the first recent run
      }
      break;
    case missed_policy::skip:
      plan.not_sent = plan.missed;
      if (plan.send.empty()) plan.record = plan.missed_last;
      break;
  }
  return plan;
}

}  // namespace celeriac::scheduler
