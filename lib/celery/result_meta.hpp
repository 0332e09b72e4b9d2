#pragma once
// Task states and the result meta Celery's Redis backend stores under
// celery-task-meta-<task_id> (celery/backends/base.py _get_result_meta and
// _store_result), plus the chord counter's zset members.

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "json/value.hpp"
#include "util/clock.hpp"

namespace celeriac::celery {

struct task_message;

enum class task_state { pending, received, started, success, failure, retry, revoked };

// "PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED".
std::string_view state_name(task_state s) noexcept;
// The inverse of state_name; nullopt for custom states (update_state).
std::optional<task_state> parse_state(std::string_view name) noexcept;
// SUCCESS, FAILURE and REVOKED: the states with a date_done that
// AsyncResult.ready() reports and that later writes never overwrite.
bool is_ready(task_state s) noexcept;

// The stored JSON object, fields in Celery's order.
struct result_meta {
  std::string status;  // a state_name(), or a custom state from update_state
  json::value result;
  json::value traceback;  // null or the formatted traceback text
  json::value children = json::array{};  // result tuples, see child_result()
  std::optional<std::string> date_done;  // naive UTC ISO; null for non-ready states
  std::optional<std::string> group_id;   // written only when set
  std::optional<std::string> parent_id;  // written only when set
  json::object extra;  // result_extended fields (name, args, kwargs, worker, retries, queue)
  std::string task_id;

  // status as a known state, nullopt for custom states.
  std::optional<task_state> state() const noexcept { return parse_state(status); }
};

struct meta_error {
  std::string message;
};
std::ostream& operator<<(std::ostream& os, const meta_error& e);

// The encoded meta: for logs and test diagnostics.
std::ostream& operator<<(std::ostream& os, const result_meta& m);

// JSON text byte-identical to Celery's: status, result, traceback,
// children, date_done, [group_id], [parent_id], [extra...], task_id.
std::string encode_result_meta(const result_meta& m);

// Parses stored meta. Requires an object with a string status and task_id;
// other fields may be absent (defaults above). Never throws.
boost::system::result<result_meta, meta_error> decode_result_meta(std::string_view text);

// What the stored meta inherits from the request that ran, and when.
struct meta_context {
  std::optional<std::string> group_id;   // request.group
  std::optional<std::string> parent_id;  // request.parent_id
  json::array children;                  // results of tasks it published
  std::optional<util::wall_time> date_done;  // default wall_now() (ready states only)
};

// group_id and parent_id from a task message (empty strings count as unset,
// as Celery's truthiness test does).
meta_context meta_context_for(const task_message& m);

// A child entry for `children`: [[task_id, null], null], Celery's
// AsyncResult.as_tuple() for a plain result with no parent.
json::value child_result(std::string_view task_id);

// SUCCESS with the task's return value.
result_meta success_meta(std::string task_id, json::value result, meta_context ctx = {});

// FAILURE with result {"exc_type": exc_type, "exc_message": [exc_message],
// "exc_module": exc_module} (Celery's prepare_exception for JSON).
result_meta failure_meta(std::string task_id, std::string_view exc_type, std::string_view exc_message,
                         std::string_view exc_module = "builtins",
                         std::optional<std::string> traceback = std::nullopt, meta_context ctx = {});

// REVOKED with TaskRevokedError(reason) from celery.exceptions; reason is
// "revoked", "expired" or "terminated" in Celery's worker. No traceback.
result_meta revoked_meta(std::string task_id, std::string_view reason = "revoked", meta_context ctx = {});

// RETRY: result = the exception given to retry(exc=...) (null when none),
// date_done null. ctx.children should hold child_result(task_id): the
// retry message is the task's child in Celery's meta.
result_meta retry_meta(std::string task_id, json::value exc = nullptr,
                       std::optional<std::string> traceback = std::nullopt, meta_context ctx = {});

// A member of the chord counter zset celery-taskset-meta-<gid>.j:
// json.dumps([1, task_id, status, result]), scored by group_index.
std::string chord_join_member(std::string_view task_id, std::string_view status, const json::value& result);

}  // namespace celeriac::celery
