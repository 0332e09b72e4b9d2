#pragma once
// How `celeriac dead list` shows entries (pure: text in, text out).

#include <cstddef>
#include <string>

#include "admin/dead_entry.hpp"

namespace celeriac::admin {

// "celeriac.add[<id>]", or "task unknown" when neither is known.
std::string task_label(const dead_entry& e);

// Two lines for a person: "#<index>  <reason>  <time>  queue <q>  <task>[<id>]"
// then the message, indented, on one line. `index` is the position in the
// list, 0 = newest.
std::string format_dead_row(std::size_t index, const dead_entry& e);

// One JSON object for scripts: "index", then the stored entry's members
// as stored, "task"/"task_id" added when only the envelope knew them, and
// "requeueable" (with "not_requeueable_because" when false). An entry that
// is not a JSON object gives {"index", "unparsable": text, "requeueable": false}.
std::string format_dead_json(std::size_t index, const dead_entry& e);

// The summary line: how many entries the list holds, how many matched the
// filter, how many are shown.
std::string describe_listing(std::size_t total, std::size_t matched, std::size_t shown, const dead_filter& filter);

}  // namespace celeriac::admin
