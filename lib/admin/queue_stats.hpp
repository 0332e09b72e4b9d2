#pragma once
// Depth, unacked and delayed counts per queue (`celeriac queues`).
// Blocking, over a redis::sync_client; throws as redis_calls.hpp says.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "admin/queue_report.hpp"
#include "broker/queue_name.hpp"
#include "redis/sync_client.hpp"

namespace celeriac::admin {

// Entries of kombu's `unacked` hash per routing key, counted by a script
// in HSCAN steps (the envelopes never travel to the client). While workers
// fetch and ack, HSCAN may see an entry twice or miss one: the counts are
// a snapshot, not a ledger.
std::map<std::string, std::int64_t> count_unacked(redis::sync_client& client);

// The queues Redis knows of: members of kombu's binding sets (see
// queue_of_binding), celeriac.delayed.* sets, and routing keys in
// `unacked` (the keys of `unacked_counts`). Sorted, each once.
std::vector<std::string> discover_queues(redis::sync_client& client,
                                         const std::map<std::string, std::int64_t>& unacked_counts);

// Stats for `queues`, or for every discovered queue when it is empty.
std::vector<queue_stats> read_queue_stats(redis::sync_client& client, const std::vector<broker::queue_name>& queues);

}  // namespace celeriac::admin
