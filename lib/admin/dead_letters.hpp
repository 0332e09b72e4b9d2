#pragma once
// The dead-letter list (celeriac.dead) for operators: read it, requeue
// its messages, delete entries. Blocking, over a redis::sync_client;
// throws as redis_calls.hpp says.
//
// Entries are read from the head (newest) in pages, so a list of any
// length is never loaded in one reply. Requeue and purge first read which
// entries match, then remove each by its exact text: an entry someone
// else removed meanwhile is simply not found (never doubled), and entries
// pushed meanwhile are left for the next run.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "admin/dead_entry.hpp"
#include "redis/sync_client.hpp"

namespace celeriac::admin {

struct indexed_entry {
  std::size_t index = 0;  // position in the list when read, 0 = newest
  dead_entry entry;
};

// LLEN celeriac.dead.
std::int64_t dead_count(redis::sync_client& client);

// Calls visit for each entry from the newest on until it returns false.
void for_each_dead_entry(redis::sync_client& client, const std::function<bool(indexed_entry&&)>& visit);

struct dead_listing {
  std::size_t total = 0;    // entries in the list
  std::size_t matched = 0;  // of them, those the filter matched
  std::vector<indexed_entry> shown;  // the newest `limit` matching ones, newest first
};

dead_listing list_dead(redis::sync_client& client, const dead_filter& filter, std::size_t limit);

struct requeue_outcome {
  enum class status {
    requeued,  // on its queue now, its entry gone
    gone,      // the entry had already been removed by someone else
    refused,   // cannot be requeued (detail says why); left in the list
  };
  indexed_entry item;
  status state = status::refused;
  std::string queue{};   // requeued/gone: where it went or would have gone
  std::string list{};    // the priority list
  std::string detail{};  // refused: why
};

// Requeues every matching entry, the oldest first so they keep their
// order at the back of their queues. Returns one outcome per match.
std::vector<requeue_outcome> requeue_dead(redis::sync_client& client, const dead_filter& filter);

// Deletes the matching entries (all of them, atomically, for an empty
// filter). Returns how many were deleted.
std::size_t purge_dead(redis::sync_client& client, const dead_filter& filter);

}  // namespace celeriac::admin
