#pragma once
// `celeriac purge`: deletes the messages waiting in queues, as `celery
// purge` does, plus their delayed sets. Blocking, over a
// redis::sync_client; throws as redis_calls.hpp says.
//
// Touches only the queue's lists (every priority step) and
// celeriac.delayed.<queue>: never `unacked` (running or held messages
// finish normally), never kombu's binding sets (the queue stays declared).

#include <cstdint>
#include <vector>

#include "broker/queue_name.hpp"
#include "redis/sync_client.hpp"

namespace celeriac::admin {

struct purged {
  broker::queue_name queue;
  std::int64_t waiting = 0;  // messages deleted from the queue's lists
  std::int64_t delayed = 0;  // members deleted from its delayed set
};

// Purges each queue in one atomic step. Returns the counts in order.
std::vector<purged> purge_queues(redis::sync_client& client, const std::vector<broker::queue_name>& queues);

}  // namespace celeriac::admin
