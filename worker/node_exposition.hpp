#pragma once
// What a worker node's /metrics says, built from what one scrape read: the
// shared table (node_metrics.hpp), the children's slots, and Redis. Pure,
// so the exposition is tested byte for byte (tests/unit/worker).
// Every metric is listed with its type and labels in docs/operations.md.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "worker/node_metrics.hpp"

namespace celeriac::worker {

// The pool as the children's shared slots show it at the scrape.
struct pool_view {
  std::string node_name;
  int children = 0;       // alive
  int tasks_running = 0;  // children running a task now
  std::int64_t started_unix_ms = 0;
};

struct queue_depth {
  std::string queue;
  std::uint64_t waiting = 0;  // LLEN over its priority lists
  std::uint64_t delayed = 0;  // ZCARD celeriac.delayed.<queue>
};

// What the scrape read from Redis; nullopt when Redis did not answer in
// time (the Redis-read metrics are then left out, celeriac_redis_up is 0).
struct broker_reads {
  double roundtrip_seconds = 0;  // one PING
  std::vector<queue_depth> queues;
  std::uint64_t dead_letters = 0;   // LLEN celeriac.dead
  std::uint64_t messages_held = 0;  // SCARD of the children's celeriac.held.<node>.<pid>
};

std::string render_node_metrics(const node_snapshot& table, const pool_view& pool,
                                 const std::optional<broker_reads>& broker);

}  // namespace celeriac::worker
