#pragma once
// Which rate limit applies to a task. Three sources, most specific first:
//   1. the run-time value set with `celeriac rate-limit NAME RATE`, kept in
//      the Redis hash celeriac.rate_limits (task name -> rate text);
//   2. the worker's `--rate-limit NAME=RATE` flags;
//   3. the task's registration default (app::task_options::rate_limit).
// The first source that names the task decides, and "0", "off" or "none"
// there means no limit even if a less specific source sets one; removing
// the run-time entry returns the task to its flag or default.
// Pure; runtime_rates.hpp reads the hash.

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "limiter/rate.hpp"
#include "resp/value.hpp"

namespace celeriac::limiter {

// The Redis hash of run-time values.
inline constexpr std::string_view runtime_rates_key = "celeriac.rate_limits";

// "celeriac:limit:task:<task>": the key of the task's limit (admission.hpp).
std::string task_limit_key(std::string_view task);

// A task's rate text read as Celery reads it (parse_rate), keyed
// task_limit_key(task); "0", "off", "none" (any case) and "" are no limit
// (nullopt). Throws std::invalid_argument naming the task and the text.
std::optional<limit> parse_task_rate(std::string_view task, std::string_view text);

// One source's settings: task name -> its limit, or nullopt where the
// source says "no limit".
using task_rate_map = std::map<std::string, std::optional<limit>, std::less<>>;

// Parses (task name, rate text) pairs, e.g. the --rate-limit flags; a later
// pair for the same task replaces an earlier one, as a repeated flag does.
// Throws std::invalid_argument for the first bad pair (parse_task_rate's
// message), or for an empty task name.
task_rate_map parse_task_rates(std::span<const std::pair<std::string, std::string>> entries);

// The three sources together.
class task_rates {
 public:
  task_rates() = default;
  task_rates(task_rate_map flags, task_rate_map defaults);

  // Replaces the run-time values (the hash as last read).
  void set_runtime(task_rate_map runtime) { runtime_ = std::move(runtime); }

  // The limit in force for `task`, or nullptr for none; valid until
  // set_runtime is called again.
  const limit* find(std::string_view task) const;

 private:
  task_rate_map runtime_;
  task_rate_map flags_;
  task_rate_map defaults_;
};

// The run-time values as read from the hash, and the entries that could
// not be read (for the worker to log once and otherwise ignore: such a
// task keeps its flag or default).
struct runtime_rates {
  struct bad_entry {
    std::string task;
    std::string text;
    std::string error;  // what parse_task_rate said
  };
  task_rate_map rates;
  std::vector<bad_entry> bad;
};

// Reads an HGETALL reply of the hash (RESP2 flat array or RESP3 map).
// Throws std::runtime_error quoting a reply of another shape.
runtime_rates read_runtime_rates(const resp::value& reply);

}  // namespace celeriac::limiter
