#include "celery/revoke_request.hpp"

#include <csignal>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace celeriac::celery {
namespace {

const json::value* argument(const json::object& arguments, std::string_view key) {
  for (const auto& [k, v] : arguments)
    if (k == key) return &v;
  return nullptr;
}

pidbox_error fail(std::string message) { return pidbox_error{std::move(message)}; }

std::string joined(std::span<const std::string> ids) { return fmt::format("{}", fmt::join(ids, ", ")); }

// The signals an operator may name; Celery accepts any of Python's.
constexpr std::array<std::pair<std::string_view, int>, 12> signal_names{{
    {"HUP", SIGHUP},
    {"INT", SIGINT},
    {"QUIT", SIGQUIT},
    {"ABRT", SIGABRT},
    {"KILL", SIGKILL},
    {"USR1", SIGUSR1},
    {"USR2", SIGUSR2},
    {"TERM", SIGTERM},
    {"CONT", SIGCONT},
    {"STOP", SIGSTOP},
    {"ALRM", SIGALRM},
    {"SEGV", SIGSEGV},
}};

}  // namespace

boost::system::result<revoke_arguments, pidbox_error> read_revoke_arguments(const json::object& arguments) {
  revoke_arguments r;
  const json::value* id = argument(arguments, "task_id");
  if (!id || id->is_null()) return fail("revoke request without \"task_id\"");
  if (id->is_string()) {
    r.task_ids.push_back(id->as_string());
  } else if (id->is_array()) {
    for (const auto& one : id->as_array()) {
      if (!one.is_string()) return fail("revoke request whose \"task_id\" list holds a non-string");
      r.task_ids.push_back(one.as_string());
    }
  } else {
    return fail("revoke request whose \"task_id\" is neither a string nor a list");
  }
  if (const json::value* t = argument(arguments, "terminate"); t && !t->is_null()) {
    if (!t->is_bool()) return fail("revoke request whose \"terminate\" is not a boolean");
    r.terminate = t->as_bool();
  }
  if (const json::value* s = argument(arguments, "signal"); s && !s->is_null()) {
    if (!s->is_string()) return fail("revoke request whose \"signal\" is not a string");
    r.signal = s->as_string();
  }
  return r;
}

json::object make_revoke_arguments(const revoke_arguments& args) {
  json::value ids = args.task_ids.size() == 1
                        ? json::value(args.task_ids.front())
                        : json::value(json::array(args.task_ids.begin(), args.task_ids.end()));
  json::value signal = args.signal ? json::value(*args.signal) : json::value("SIGTERM");
  return json::object{{"task_id", std::move(ids)}, {"terminate", json::value(args.terminate)},
                      {"signal", std::move(signal)}};
}

std::optional<int> signal_number(std::string_view name) {
  if (name.empty()) return std::nullopt;
  int number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (ec == std::errc() && end == name.data() + name.size()) {
    if (number > 0 && number < NSIG) return number;
    return std::nullopt;
  }
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  std::string_view bare = upper;
  if (bare.starts_with("SIG")) bare.remove_prefix(3);
  for (const auto& [n, sig] : signal_names)
    if (n == bare) return sig;
  return std::nullopt;
}

json::value revoke_reply(const revoke_arguments& args, std::span<const std::string> terminated) {
  if (!args.terminate) return control_ok(fmt::format("tasks {} flagged as revoked", joined(args.task_ids)));
  if (terminated.empty()) return control_ok("terminate: tasks unknown");
  return control_ok(fmt::format("terminate: {}", joined(terminated)));
}

}  // namespace celeriac::celery
