#pragma once
// Everything `celeriac worker` was told on its command line, validated.

#include <chrono>
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

  // True when results go to the same Redis as the broker, so a result and
  // its ack can be written in one atomic step.
  bool results_on_broker() const;
};

}  // namespace celeriac::worker
