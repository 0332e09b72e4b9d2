#pragma once
// The worker's process pool: the supervisor (process management), the
// children's shared slots, crash recovery and autoscaling, wired together.

#include "app/task_registry.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

// Runs the pool until it shuts down; returns the process exit code.
int run_pool(const worker_settings& settings, const app::task_registry& registry);

}  // namespace celeriac::worker
