#pragma once
// The supervisor's side of a child's death: every message the child held is
// dealt with at once, not after the visibility timeout. Unstarted and
// eta-held ones go back to the front of their queues untouched; the one it
// was running is redelivered, failed or dead-lettered as crash_policy
// decides. Runs in the supervisor (no io_context of its own there), over a
// blocking Redis client, bounded in time.

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "app/task_registry.hpp"
#include "redis/sync_client.hpp"
#include "worker/crash_policy.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

struct dead_child {
  pid_t pid = 0;
  int wait_status = 0;
  child_end end = child_end::crashed;
  std::optional<std::string> running_tag;  // nullopt: it was between tasks
  double hard_limit_seconds = 0;
};

class crash_recovery {
public:
  crash_recovery(const worker_settings& settings, const app::task_registry& registry);
  ~crash_recovery();

  // Deals with a dead child's messages. Returns false, after logging, when
  // Redis could not be reached or refused: the held set stays in Redis and
  // the caller tries again later (and the visibility timeout is the last
  // resort if the supervisor itself dies).
  bool recover(const dead_child& child);

private:
  struct connections;
  void run_recovery(const dead_child& child);

  const worker_settings& settings_;
  const app::task_registry& registry_;
  std::unique_ptr<connections> conns_;
};

}  // namespace celeriac::worker
