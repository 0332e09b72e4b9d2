#pragma once
// The body of one worker child process: its own io_context, signal
// handling (SIGTERM warm, SIGQUIT cold), and the consumer.

#include "app/task_registry.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

// Runs worker child `index` until it shuts down; returns its exit code.
int run_child(const worker_settings& settings, const app::task_registry& registry, int index);

}  // namespace celeriac::worker
