#pragma once
// The task message beat sends for one tick of one entry: an ordinary
// Celery protocol v2 message, as Celery beat's apply_async produces it
// (sample celery-wire/samples/beat_message.json), so celeriac workers and
// Python Celery workers both run it.
//
// Differences from Celery beat, all invisible to a consumer:
// - the task id is tick_task_id(beat name, entry, tick), not a random uuid4,
//   so a duplicate would show as a repeated id;
// - `expires` counts from the tick, not from the moment of sending, so a
//   late catch-up run expires when the tick's run would have.

#include <chrono>
#include <string>
#include <string_view>

#include "celery/task_message.hpp"
#include "scheduler/schedule_entry.hpp"
#include "util/clock.hpp"

namespace celeriac::scheduler {

// The message for `entry`'s `tick` in schedule `beat_name`, built at `now`
// (used for properties.expiration, the milliseconds left until expiry).
// argsrepr is list-style ("[2, 3]") like beat's; priority is the entry's
// or 0; the queue is the entry's. Throws std::invalid_argument if the
// entry's args/kwargs JSON does not parse (schedule_file guarantees it does).
celery::task_message make_beat_message(const schedule_entry& entry, std::string_view beat_name,
                                       std::chrono::sys_seconds tick, util::wall_time now);

// The Redis list the message for `entry` is LPUSHed to: the entry's queue,
// or its priority sub-list (kombu's priority steps).
std::string beat_message_list(const schedule_entry& entry);

}  // namespace celeriac::scheduler
