#pragma once
// The node-wide `active` and `processed` figures of a worker-heartbeat,
// from what every child's shared slot says (worker/child_slots.hpp).
// Pure: the caller reads the slots and feeds the readings in.
//
// Celery counts a task in `processed` when the pool accepts it, so the
// running ones are in it. A slot's count of finished tasks starts again at
// 0 when its child is replaced; the tally carries the old child's count
// over, keyed on the pid, so the node's total never goes down.

#include <cstdint>
#include <span>
#include <vector>

namespace celeriac::worker {

struct slot_reading {
  std::int32_t pid = 0;         // 0: no child in the slot now
  bool running = false;         // running a task now
  std::uint64_t tasks_run = 0;  // tasks it finished
};

struct node_activity {
  std::int64_t active = 0;     // tasks running now
  std::int64_t processed = 0;  // tasks taken so far (finished + running)
};

class activity_tally {
public:
  // One reading of every slot, in slot order.
  node_activity update(std::span<const slot_reading> slots);

private:
  struct seen {
    std::int32_t pid = 0;
    std::uint64_t tasks_run = 0;
  };
  std::vector<seen> seen_;
  std::uint64_t carried_ = 0;  // finished by children that are gone
};

}  // namespace celeriac::worker
