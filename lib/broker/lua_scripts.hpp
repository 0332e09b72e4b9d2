#pragma once
// The Lua scripts that make celeriac's broker operations atomic while
// keeping kombu's data layout (queue lists, `unacked` hash, `unacked_index`
// sorted set), so Celery workers and celeriac workers can restore each
// other's messages.
//
// Each script's contract (KEYS, ARGV, reply) is written above its source in
// lua_scripts.cpp; the C++ callers in kombu_transport.cpp are the only users.

#include <string>
#include <string_view>

namespace celeriac::broker::lua {

// Pops up to N messages across lists in the given order and records each in
// unacked/unacked_index in the same step, or dead-letters it in that step
// when its delivery tag cannot be read. kombu pops first and records later
// (celery#7950): a kill in between loses the message. Here it cannot.
extern const std::string_view fetch;

// Stores result metas (never over a stored SUCCESS, as Celery's backend
// checks) and acks the given delivery tags, all in one step: a message is
// acknowledged only together with its outcome.
extern const std::string complete;

// The Lua function write_meta(key, meta, ttl) that `complete` uses to store
// one result meta, for other scripts that store results (chord_scripts.cpp).
extern const std::string_view write_meta_function;

// kombu's restore_by_tag as a compare-and-set: moves one unacked entry back
// to its queue only if the entry is still exactly what the caller read
// (the WATCH/MULTI of kombu, without a dedicated connection).
extern const std::string_view restore_one;

// Moves a held message from unacked into its queue's delayed set (a
// sorted set scored by when it is due), in one step.
extern const std::string_view defer;

// Moves the due members of one queue's delayed set to the front of their
// lists, exactly once whoever runs it.
extern const std::string_view promote;

// Releases `unacked_mutex` only if we still hold it (kombu's release).
extern const std::string_view release_lock;

}  // namespace celeriac::broker::lua
