#pragma once
// How many children the pool wants (`--autoscale MAX,MIN`), as Celery's
// autoscaler decides: grow at once to cover the work in sight, shrink only
// after the demand has stayed lower for a while (keepalive), never outside
// [MIN, MAX]. Pure; the backlog comes from Redis (pool.cpp).

#include <chrono>

namespace celeriac::worker {

struct autoscale_state {
  std::chrono::steady_clock::time_point last_grown{};
};

struct autoscale_input {
  int current = 0;   // children in the pool now
  int busy = 0;      // children running a task now
  long backlog = 0;  // messages waiting in the consumed queues
  int min = 0;
  int max = 1;
  std::chrono::steady_clock::time_point now{};
  std::chrono::seconds keepalive{30};  // Celery's AUTOSCALE_KEEPALIVE
};

int autoscale_target(const autoscale_input& in, autoscale_state& state);

}  // namespace celeriac::worker
