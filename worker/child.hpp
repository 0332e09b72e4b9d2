#pragma once
// The body of one worker child process: its own io_context, signal
// handling (SIGTERM warm, SIGQUIT cold), and the consumer.

#include "app/task_registry.hpp"
#include "worker/child_slots.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

// Runs worker child `index` until it shuts down; returns its exit code.
// `slot` is the memory it shares with the supervisor.
int run_child(const worker_settings& settings, const app::task_registry& registry, int index, child_slots& slots);

}  // namespace celeriac::worker
