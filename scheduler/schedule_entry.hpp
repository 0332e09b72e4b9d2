#pragma once
// One validated [[entry]] of a schedule file: what beat sends, where, and
// when. Produced by schedule_file.hpp; every field is already checked, so
// the beat loop trusts it.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <date/tz.h>

#include "cron/schedule.hpp"

namespace celeriac::scheduler {

// What to do with ticks that fell due while no beat instance ran.
enum class missed_policy {
  run_once,  // send one catch-up run, named by the latest missed tick; log how many collapsed into it
  skip,      // send nothing for them; carry on from the next tick
};

// "run_once" / "skip", as written in the schedule file.
constexpr std::string_view to_string(missed_policy p) noexcept {
  return p == missed_policy::skip ? "skip" : "run_once";
}

// Celery's default queue, used when an entry names none.
inline constexpr std::string_view default_queue = "celery";

struct schedule_entry {
  std::string name;                           // unique in the file; [A-Za-z0-9_.:-], names the entry in logs and keys
  std::string task;                           // Celery task name to send
  cron::schedule when;                        // `cron = "..."` or `every = "..."`
  std::string args_json = "[]";               // positional arguments: JSON array text, json.dumps style
  std::string kwargs_json = "{}";             // keyword arguments: JSON object text, json.dumps style
  std::string queue{default_queue};           // queue (routing key) the message goes to
  std::optional<int> priority;                // 0-9; none = the queue's default
  std::optional<double> expires;              // seconds after the tick past which a worker discards the run
  std::string timezone_name = "UTC";          // IANA name as written
  const date::time_zone* timezone = nullptr;  // resolved from timezone_name; never null in a loaded entry
  missed_policy missed = missed_policy::run_once;
  bool enabled = true;                        // false: validated and shown by dry-run, never sent
  std::size_t line = 0;                       // line of the entry's [[entry]] header, for messages

  // The entry's first fire time strictly after t (see cron::schedule).
  std::chrono::sys_seconds next_after(std::chrono::sys_seconds t) const { return when.next_after(t, timezone); }
};

}  // namespace celeriac::scheduler
