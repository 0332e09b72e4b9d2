#include "worker/remote_commands.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <ostream>

#include <fmt/format.h>

namespace celeriac::cli {
namespace {

using enum word_type;

// Celery 5.2's Panel.meta, visible entries only (`hello` is not), in
// registration order: what `celery inspect --help` / `control --help` list.
const std::vector<remote_command>& inspect_table() {
  static const std::vector<remote_command> table{
      {"report", remote_kind::inspect, "", "Information about Celery installation for bug reports."},
      {"conf", remote_kind::inspect, "[include_defaults=False]", "List configuration.", {{"with_defaults", boolean}}},
      {"query_task", remote_kind::inspect, "[id1 [id2 [... [idN]]]]", "Query for task information by id.", {}, "ids"},
      {"clock", remote_kind::inspect, "", "Get current logical clock value."},
      {"ping", remote_kind::inspect, "", "Ping worker(s)."},
      {"stats", remote_kind::inspect, "", "Request worker statistics/information."},
      {"scheduled", remote_kind::inspect, "", "List of currently scheduled ETA/countdown tasks."},
      {"reserved", remote_kind::inspect, "", "List of currently reserved tasks, not including scheduled/active."},
      {"active", remote_kind::inspect, "", "List of tasks currently being executed."},
      {"revoked", remote_kind::inspect, "", "List of revoked task-ids."},
      {"registered", remote_kind::inspect, "[attr1 [attr2 [... [attrN]]]]", "List of registered tasks.", {},
       "taskinfoitems"},
      {"objgraph", remote_kind::inspect, "[object_type=Request] [num=200 [max_depth=10]]",
       "Create graph of uncollected objects (memory-leak debugging).",
       {{"type", text}, {"num", integer}, {"max_depth", integer}}},
      {"memsample", remote_kind::inspect, "", "Sample current RSS memory usage."},
      {"memdump", remote_kind::inspect, "[n_samples=10]", "Dump statistics of previous memsample requests.",
       {{"samples", integer}}},
      {"active_queues", remote_kind::inspect, "", "List the task queues a worker is currently consuming from."},
  };
  return table;
}

const std::vector<remote_command>& control_table() {
  static const std::vector<remote_command> table{
      {"revoke", remote_kind::control, "[id1 [id2 [... [idN]]]]", "Revoke task by task id (or list of ids).", {},
       "task_id"},
      {"terminate", remote_kind::control, "<signal> [id1 [id2 [... [idN]]]]",
       "Terminate task by task id (or list of ids).", {{"signal", text}}, "task_id"},
      {"rate_limit", remote_kind::control, "<task_name> <rate_limit (e.g., 5/s | 5/m | 5/h)>",
       "Tell worker(s) to modify the rate limit for a task by type.", {{"task_name", text}, {"rate_limit", text}}},
      {"time_limit", remote_kind::control, "<task_name> <soft_secs> [hard_secs]",
       "Tell worker(s) to modify the time limit for task by type.",
       {{"task_name", text}, {"soft", number}, {"hard", number}}},
      {"election", remote_kind::control, "", "Hold election."},
      {"enable_events", remote_kind::control, "", "Tell worker(s) to send task-related events."},
      {"disable_events", remote_kind::control, "", "Tell worker(s) to stop sending task-related events."},
      {"heartbeat", remote_kind::control, "", "Tell worker(s) to send event heartbeat immediately."},
      {"pool_grow", remote_kind::control, "[N=1]", "Grow pool by n processes/threads.", {{"n", integer}}},
      {"pool_shrink", remote_kind::control, "[N=1]", "Shrink pool by n processes/threads.", {{"n", integer}}},
      {"pool_restart", remote_kind::control, "", "Restart execution pool."},
      {"autoscale", remote_kind::control, "[max [min]]", "Modify autoscale settings.",
       {{"max", integer}, {"min", integer}}},
      {"shutdown", remote_kind::control, "", "Shutdown worker(s)."},
      {"add_consumer", remote_kind::control, "<queue> [exchange [type [routing_key]]]",
       "Tell worker(s) to consume from task queue by name.",
       {{"queue", text}, {"exchange", text}, {"exchange_type", text}, {"routing_key", text}}},
      {"cancel_consumer", remote_kind::control, "<queue>", "Tell worker(s) to stop consuming from task queue by name.",
       {{"queue", text}}},
  };
  return table;
}

// Python's int() for the decimal forms an operator types: "5", "-2", "+3".
std::optional<std::int64_t> to_integer(std::string_view word) {
  if (word.starts_with('+')) word.remove_prefix(1);
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), n);
  if (ec != std::errc() || end != word.data() + word.size() || word.empty()) return std::nullopt;
  return n;
}

// Python's float(): "5", "2.5", "1e3", "inf", "nan".
std::optional<double> to_number(std::string_view word) {
  if (word.starts_with('+')) word.remove_prefix(1);
  double d = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), d);
  if (ec != std::errc() || end != word.data() + word.size() || word.empty()) return std::nullopt;
  return d;
}

// celery.utils.serialization.STRTOBOOL_DEFAULT_TABLE.
std::optional<bool> to_boolean(std::string_view word) {
  std::string lower(word);
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view yes : {"true", "yes", "1", "on"})
    if (lower == yes) return true;
  for (std::string_view no : {"false", "no", "0", "off"})
    if (lower == no) return false;
  return std::nullopt;
}

std::optional<json::value> convert(word_type type, const std::string& word) {
  switch (type) {
    case text: return json::value(word);
    case integer:
      if (auto n = to_integer(word)) return json::value(static_cast<long long>(*n));
      return std::nullopt;
    case number:
      if (auto d = to_number(word)) return json::value(*d);
      return std::nullopt;
    case boolean:
      if (auto b = to_boolean(word)) return json::value(*b);
      return std::nullopt;
  }
  return std::nullopt;
}

std::string_view expected(word_type type) {
  switch (type) {
    case text: return "text";
    case integer: return "a whole number";
    case number: return "a number of seconds";
    case boolean: return "true or false (yes/no, on/off, 1/0)";
  }
  return "";
}

}  // namespace

std::span<const remote_command> remote_commands(remote_kind kind) {
  return kind == remote_kind::inspect ? inspect_table() : control_table();
}

const remote_command* find_remote_command(remote_kind kind, std::string_view name) {
  for (const auto& c : remote_commands(kind))
    if (c.name == name) return &c;
  return nullptr;
}

boost::system::result<json::object, argument_error> compile_arguments(const remote_command& command,
                                                                       std::span<const std::string> words) {
  json::object arguments;
  const std::size_t leading = std::min(words.size(), command.arguments.size());
  if (words.size() > leading && command.variadic.empty())
    return argument_error{fmt::format("Command '{}' takes arguments: {}", command.name,
                                      command.signature.empty() ? "none" : command.signature)};
  for (std::size_t i = 0; i < leading; ++i) {
    const remote_argument& arg = command.arguments[i];
    auto value = convert(arg.type, words[i]);
    if (!value)
      return argument_error{fmt::format("{} of {} must be {}, not '{}' (arguments: {})", arg.name, command.name,
                                        expected(arg.type), words[i], command.signature)};
    arguments.emplace_back(std::string(arg.name), std::move(*value));
  }
  if (!command.variadic.empty()) {
    json::array rest(words.begin() + static_cast<std::ptrdiff_t>(leading), words.end());
    arguments.emplace_back(std::string(command.variadic), json::value(std::move(rest)));
  }
  return arguments;
}

std::ostream& operator<<(std::ostream& os, const argument_error& e) { return os << e.message; }

}  // namespace celeriac::cli
