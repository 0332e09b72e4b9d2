#pragma once
// Celery's `revoke` remote-control command: its arguments as Celery's
// clients send them and the reply Celery's worker gives
// (celery/app/control.py Control.revoke, celery/worker/control.py revoke).

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "celery/pidbox_message.hpp"
#include "json/value.hpp"

namespace celeriac::celery {

inline constexpr std::string_view revoke_method = "revoke";

struct revoke_arguments {
  std::vector<std::string> task_ids{};
  bool terminate = false;  // also signal the process running the task
  // The signal name as sent ("SIGTERM", "KILL", "9"...); nullopt means
  // Celery's default, SIGTERM. See signal_number().
  std::optional<std::string> signal{};
};

// Reads {"task_id": id | [ids], "terminate": bool, "signal": name | null}
// (`celery control revoke` sends only task_id; AsyncResult.revoke() sends
// all three). Error when task_id is missing or not a string / list of
// strings, terminate is not a bool (or null), or signal is not a string
// (or null). Never throws.
boost::system::result<revoke_arguments, pidbox_error> read_revoke_arguments(const json::object& arguments);

// The arguments app.control.revoke(ids, terminate=, signal=) sends:
// {"task_id": id (one) or [ids], "terminate": bool, "signal": name}.
json::object make_revoke_arguments(const revoke_arguments& args);

// The signal number for a name as Celery's platforms.signum() reads it:
// "SIGKILL", "KILL" (case-insensitive) or a decimal number. nullopt for an
// unknown name.
std::optional<int> signal_number(std::string_view name);

// The reply Celery's worker gives: {"ok": "tasks a, b flagged as revoked"};
// with terminate, {"ok": "terminate: a, b"} for the ids it signalled, or
// {"ok": "terminate: tasks unknown"} when none was running here.
json::value revoke_reply(const revoke_arguments& args, std::span<const std::string> terminated);

}  // namespace celeriac::celery
