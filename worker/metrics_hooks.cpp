#include "worker/metrics_hooks.hpp"

#include "worker/node_metrics.hpp"

namespace celeriac::worker {

void count_task_outcome(std::string_view task, const outcome& o) noexcept {
  node_metrics* table = node_metrics::installed();
  if (!table) return;
  task_outcome which = task_outcome::success;
  if (o.terminated) which = task_outcome::revoked;
  else if (o.what == outcome::kind::failure) which = task_outcome::failure;
  else if (o.what == outcome::kind::retry) which = task_outcome::retry;
  table->task_finished(task, which, o.runtime_seconds);
}

void count_task_revoked(std::string_view task) noexcept {
  if (node_metrics* table = node_metrics::installed()) table->task_finished(task, task_outcome::revoked, std::nullopt);
}

void count_child_started() noexcept {
  if (node_metrics* table = node_metrics::installed()) table->child_started();
}

void count_child_exit(int index, child_exit why) noexcept {
  node_metrics* table = node_metrics::installed();
  if (!table) return;
  // Its job store is gone with it; a replacement publishes its own.
  table->set_job_store_backlog(static_cast<std::size_t>(index), std::nullopt);
  switch (why) {
    case child_exit::crashed: table->child_restarted(restart_reason::crashed); break;
    case child_exit::time_limit: table->child_restarted(restart_reason::time_limit); break;
    case child_exit::recycled: table->child_restarted(restart_reason::recycled); break;
    case child_exit::retired:
    case child_exit::shutdown: break;  // not replaced
  }
}

}  // namespace celeriac::worker
