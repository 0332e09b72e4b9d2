#pragma once
// The Lua scripts behind chord_store: a header task's result and its join
// in one step, and a chord's completion in one step guarded by its size
// key. Contracts (KEYS, ARGV, reply) are above each source in
// chord_scripts.cpp; chord_store.cpp is the only user.

#include <string>

namespace celeriac::broker::lua {

// Stores the task's result meta (never over a SUCCESS), adds its member to
// .j (replacing an earlier run's), refreshes the expiry and says whether
// the count is complete, returning the members (and a saved GroupResult)
// when it is.
extern const std::string chord_join;

// If .s exists: deletes .j/.t/.s and writes the effects (values, metas,
// bindings, pushes). Else nothing: someone completed the chord already.
extern const std::string chord_complete;

}  // namespace celeriac::broker::lua
