#pragma once
// Everything `celeriac worker` was told on its command line, validated.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "broker/queue_name.hpp"
#include "redis/config.hpp"
#include "util/log.hpp"

namespace celeriac::worker {

struct worker_settings {
  redis::config broker;
  std::optional<redis::config> result_backend;  // nullopt: results off
  std::vector<broker::queue_name> queues;
  int concurrency = 2;             // child processes
  int prefetch_multiplier = 4;     // messages each child may hold unstarted
  std::chrono::seconds visibility_timeout{3600};
  std::chrono::seconds result_expires{86400};  // 0: never expire
  std::string node_name;           // "celeriac@host"
  log::level log_level = log::level::info;
  bool acks_early = false;         // Celery's default at-most-once; ours is acks_late
  std::optional<std::string> database_url;  // job progress in PostgreSQL

  // Supervision (docs/operations.md).
  bool requeue_on_crash = true;    // false: --no-requeue-on-crash (WorkerLostError)
  int max_crashes = 3;             // a message running at this many child deaths is dead-lettered
  long max_tasks_per_child = 0;    // 0: no limit
  long max_memory_per_child_kib = 0;  // 0: no limit; resident set size, checked between tasks
  int autoscale_max = 0;           // 0: fixed pool of `concurrency` children
  int autoscale_min = 0;
  std::chrono::seconds autoscale_keepalive{30};  // demand must stay lower this long before shrinking
  bool enable_test_tasks = false;  // celeriac.crash and friends

  // Time limits in seconds, the worker-wide defaults (message header and
  // task registration take precedence).
  std::optional<double> time_limit;
  std::optional<double> soft_time_limit;

  // Per-task rate limits from --rate-limit NAME=RATE (Celery's rate text).
  std::vector<std::pair<std::string, std::string>> rate_limits;

  std::chrono::seconds revoked_expires{3 * 3600};
  // A message whose eta is further away than this goes to Redis's delayed
  // set instead of being held in memory.
  std::chrono::milliseconds eta_horizon{30'000};
  // Fair dispatch: once the running task has run this long, a child hands
  // its unstarted messages back for idle children. 0: never (each child
  // keeps its prefetch, as before).
  std::chrono::milliseconds hand_back_after{10};

  // Celery's events (docs/operations.md#events): task-* events with -E
  // (or remote enable_events); worker-online/-heartbeat/-offline unless
  // --without-heartbeat, as a Celery worker sends them even without -E.
  bool task_events = false;
  bool worker_events = true;

  // /metrics (Prometheus text format) on this address and port, served by
  // the first child; nullopt: no metrics (docs/operations.md#metrics).
  std::optional<std::uint16_t> metrics_port;
  std::string metrics_bind = "127.0.0.1";

  // The set of delivery tags the child with this pid holds.
  std::string held_key(long pid) const;

  // The CLIENT SETNAME of the child's connections that fetch (the node name
  // with what Redis refuses in a name, spaces and the like, as '_'): the
  // supervisor finds a dead child's connections by it and kills them
  // before it recovers the child's messages (worker/crash_recovery.cpp).
  std::string child_client_name(long pid) const;

  // The broker's config with the child's client name set.
  redis::config child_broker(long pid) const;

  // `server` (the broker or the result backend) as the supervisor connects
  // to it: host names looked up in place, so the supervisor never has a
  // thread when it forks a child.
  static redis::config for_supervisor(redis::config server);

  // True when results go to the same Redis as the broker, so a result and
  // its ack can be written in one atomic step.
  bool results_on_broker() const;
};

}  // namespace celeriac::worker
