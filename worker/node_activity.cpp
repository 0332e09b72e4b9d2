#include "worker/node_activity.hpp"

#include <algorithm>

namespace celeriac::worker {

node_activity activity_tally::update(std::span<const slot_reading> slots) {
  if (seen_.size() < slots.size()) seen_.resize(slots.size());
  node_activity out;
  std::uint64_t finished = carried_;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const slot_reading& r = slots[i];
    seen& s = seen_[i];
    if (r.pid == 0) {
      // Between a death and the replacement the slot may still show the
      // dead child's final count, or already 0: keep the larger.
      s.tasks_run = std::max(s.tasks_run, r.tasks_run);
    } else if (r.pid != s.pid) {
      carried_ += s.tasks_run;  // a new child: its predecessor's tasks stay counted
      finished += s.tasks_run;
      s = seen{r.pid, r.tasks_run};
    } else {
      s.tasks_run = std::max(s.tasks_run, r.tasks_run);
    }
    finished += s.tasks_run;
    if (r.pid != 0 && r.running) ++out.active;
  }
  out.processed = static_cast<std::int64_t>(finished) + out.active;
  return out;
}

}  // namespace celeriac::worker
