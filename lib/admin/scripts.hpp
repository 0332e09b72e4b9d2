#pragma once
// The Lua scripts of the operator commands. Each changes what it changes
// in one atomic step, so two operators (or an operator and the workers)
// acting at once never duplicate or lose a message.

#include "redis/script.hpp"

namespace celeriac::admin::scripts {

// Requeues one dead-letter entry: removes it (LREM of its exact text) and,
// only if it was still there, LPUSHes the message onto its list, drops its
// crash count and declares the queue's binding as a publish does.
// KEYS: [1] celeriac.dead [2] the priority list [3] celeriac.deliveries
//       [4] _kombu.binding.<queue>
// ARGV: [1] the entry's text [2] the envelope [3] its delivery tag
//       [4] the binding member
// Returns 1 when requeued, 0 when the entry was gone (someone else took it).
extern const redis::script requeue_dead;

// Counts and deletes a whole list. KEYS: [1] the list. Returns the count.
extern const redis::script delete_list;

// Counts and deletes what waits in a queue: its priority lists and its
// delayed set (never `unacked`: those messages are running or held).
// KEYS: [1..4] the priority lists [5] celeriac.delayed.<queue>
// Returns {waiting, delayed}.
extern const redis::script purge_queue;

// One HSCAN step over `unacked`, counting entries per routing key without
// sending the envelopes to the client.
// KEYS: [1] unacked. ARGV: [1] cursor [2] COUNT hint.
// Returns {next cursor, routing key, count, routing key, count, ...}.
extern const redis::script count_unacked_step;

// A queue's depth in one snapshot.
// KEYS: [1..4] the priority lists [5] celeriac.delayed.<queue>
// Returns {llen 0, llen 3, llen 6, llen 9, zcard, first score or false}.
extern const redis::script queue_depth;

}  // namespace celeriac::admin::scripts
