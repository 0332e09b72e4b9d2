#pragma once
// What beat's state in Redis is called, and what names a tick.
//
// Every key of one schedule shares the prefix `celeriac.beat.<name>`
// (`--name`, default "default"), so independent schedules can share one
// Redis database without seeing each other's lease or ticks:
//
//   celeriac.beat.<name>:lease        string  the leader's token, with a PX expiry
//   celeriac.beat.<name>:last         hash    entry name → last fired tick, unix seconds
//   celeriac.beat.<name>:fingerprint  hash    entry name → the timing the tick belongs to
//
// A tick is named by its scheduled time, so every instance names it alike;
// its message's task id is derived from (schedule name, entry, tick), so a
// duplicate would be visible as a repeated id.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "scheduler/schedule_entry.hpp"

namespace celeriac::scheduler {

// The schedule name used when --name is not given.
inline constexpr std::string_view default_beat_name = "default";

struct beat_keys {
  std::string lease;        // string: holder's token; PX = the lease time
  std::string last;         // hash: entry → last fired tick (unix seconds, the tick's scheduled time)
  std::string fingerprint;  // hash: entry → entry_fingerprint() of the timing that tick belongs to
};

// The keys of schedule `name` (which must pass beat_name_problem).
beat_keys make_beat_keys(std::string_view name);

// Why `name` cannot name a schedule, or nullopt if it can: 1-100
// characters from [A-Za-z0-9_.:-], like entry names.
std::optional<std::string> beat_name_problem(std::string_view name);

// What an entry's ticks depend on, and nothing else: `every 60s` (the
// period in seconds, however it was written) or `cron "0 * * * *" in
// America/New_York`. A stored tick whose fingerprint differs from the
// entry's belongs to an older timing and is not carried over.
std::string entry_fingerprint(const schedule_entry& entry);

// The task id of entry `entry`'s message for `tick` in schedule
// `beat_name`: the name-based (version 5) UUID of
// "celeriac-beat:<beat_name>/<entry>@<tick unix seconds>" in the URL
// namespace, as Python's
//   uuid.uuid5(uuid.NAMESPACE_URL, "celeriac-beat:default/demo-add@1700000000")
// computes it. The same tick always gets the same id.
std::string tick_task_id(std::string_view beat_name, std::string_view entry, std::chrono::sys_seconds tick);

// The RFC 4122 version 5 UUID of `name` in namespace `ns` (a UUID's
// text), in lower-case canonical text: Boost.UUID's name_generator_sha1,
// as Python's uuid.uuid5. Throws std::runtime_error if `ns` is not a
// UUID (callers pass constants).
std::string uuid5(std::string_view ns, std::string_view name);

}  // namespace celeriac::scheduler
