#pragma once
// The one-line calls the consumer and the pool make into the node's
// metrics table (worker/node_metrics.hpp). Each is a no-op when the worker
// runs without --metrics-port.

#include <string_view>

#include "worker/executor.hpp"
#include "worker/supervisor.hpp"

namespace celeriac::worker {

// A task ran and ended with outcome `o` (success, failure, retry, or
// revoked when it was terminated): counted with its runtime.
void count_task_outcome(std::string_view task, const outcome& o) noexcept;
// A task was revoked (or expired) without running to its end.
void count_task_revoked(std::string_view task) noexcept;

// The supervisor's side: a child forked into a slot; a child in slot
// `index` ended (a crash, a time limit or a recycle means a restart).
void count_child_started() noexcept;
void count_child_exit(int index, child_exit why) noexcept;

}  // namespace celeriac::worker
