#pragma once
// Task states and the result meta Celery's Redis backend stores under
// celery-task-meta-<task_id> (celery/backends/base.py _get_result_meta and
// _store_result), plus the chord counter's zset members.
//
// Written strictly (Celery's exact bytes), read liberally: other
// implementations (celery-node's worker stores "traceback": <the result>
// and a date_done ending in "Z") write metas Celery's own client reads, so
// the decoder asks no more than Celery's client does.

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
  json::value traceback;  // written: null or the formatted traceback text; read: any JSON
  json::value children = json::array{};  // result tuples, see child_result()
  std::optional<std::string> date_done;  // written: naive UTC ISO, null for non-ready states
  std::optional<std::string> group_id;   // written only when set
  std::optional<std::string> parent_id;  // written only when set
  json::object extra;  // result_extended fields (name, args, kwargs, worker, retries, queue)
  std::string task_id;  // read: "" when the stored meta has none (Celery never reads it)

  // status as a known state, nullopt for custom states.
  std::optional<task_state> state() const noexcept { return parse_state(status); }
  // date_done as a time: naive (UTC), "Z" and "+HH:MM" forms; nullopt when
  // absent or not an ISO-8601 date-time.
  std::optional<util::wall_time> done_at() const;
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

// Parses stored meta as liberally as Celery's client (backends/base.py
// decode_result, _get_task_meta_for): what it needs is a JSON object with a
// string status. Every other field may be absent or odd: result and
// traceback keep any JSON; children keeps any value; a non-string date_done,
// group_id, parent_id or task_id reads as absent; unknown fields go to
// extra. The error says what is wrong; never throws.
boost::system::result<result_meta, meta_error> decode_result_meta(std::string_view text);

// One line for a FAILURE/REVOKED meta, read as Celery's exception_to_python
// reads `result`: "ValueError: boom" from {"exc_type", "exc_message",
// "exc_module"} (exc_message a list, or a bare value as older writers
// store it); the bare type for an exception without arguments; when result
// names no exception (celery-node stores null and puts the error in
// traceback), the status, then what the traceback (else the result) says:
// a string's last line, other JSON as text, nothing for null, {} or [].
std::string failure_summary(const result_meta& m);

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
