#pragma once
// The JSON form of a log line (`--log-format json`): one object per line,
// with the fields Celery's log records carry, under plain names:
//
//   {"time": "2026-11-22T03:25:21.594123+00:00", "level": "INFO",
//    "process": "Worker-1", "pid": 4711, "task_name": "celeriac.add",
//    "task_id": "eb13df2d-...", "message": "Task celeriac.add[eb13df2d-...] succeeded in 0.000012s: 5"}
//
// time is UTC (ISO-8601, microseconds), level Celery's levelname, process
// Celery's processName (MainProcess, Worker-N, or the beat's), pid the
// OS process id; task_name and task_id appear only when known. Pure, so
// every byte is tested.

#include <optional>
#include <string>
#include <string_view>

#include "util/clock.hpp"
#include "util/log.hpp"

namespace celeriac::log {

struct task_ref {
  std::string_view name;
  std::string_view id;
};

struct line_fields {
  level lvl = level::info;
  util::wall_time time{};
  std::string_view process;
  long pid = 0;
  std::optional<task_ref> task;
  std::string_view message;
};

// The line, ending in "\n". Text that is not valid UTF-8 has each bad byte
// replaced by U+FFFD, so the line is always valid JSON.
std::string json_line(const line_fields& f);

// The task a message is about, in Celery's notation NAME[ID] (its first
// occurrence, at the start or after a space: "Task celeriac.add[5e1c...]
// succeeded", "Discarding revoked task: tasks.x[id]"), or nullopt.
std::optional<task_ref> task_in_message(std::string_view message);

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

}  // namespace celeriac::log
