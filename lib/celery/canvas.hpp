#pragma once
// What a worker publishes after a task: the next chain step, link
// callbacks, link_error errbacks, the chord body, and a retry, mirroring
// Celery 5.2's worker (celery/app/trace.py, celery/backends/base.py
// _call_task_errbacks, celery/backends/redis.py on_chord_part_return,
// celery/app/task.py Task.retry).
//
// Applying a signature follows Signature.apply_async → app.send_task:
//   * args = prepended + sig.args unless sig.immutable (then sig.args only);
//     argsrepr is then the tuple form "(3, 10)" (Celery builds a tuple), or
//     the list form "[1]" when the immutable signature's own list is used;
//   * these sig.options are honoured: task_id, queue (else routing_key,
//     else "celery"), priority, countdown, eta, expires (seconds or ISO),
//     time_limit, soft_time_limit, shadow, link, link_error, chain, chord,
//     group_id, group_index, retries, reply_to, root_id, parent_id,
//     ignore_result, headers, argsrepr, kwargsrepr, delivery_mode;
//   * other publish-time options Celery consumes (exchange, serializer,
//     retry_policy...) are dropped; any remaining unknown option becomes an
//     extra property, as kombu does with send_task's leftover options.
// Only plain task signatures are applied: a group/chain/chord signature
// (subtask_type set) as a callback or chain step yields a canvas_error.

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "celery/py_repr.hpp"
#include "celery/signature.hpp"
#include "celery/task_message.hpp"
#include "json/value.hpp"
#include "util/clock.hpp"

namespace celeriac::celery {

struct canvas_error {
  std::string message;
};
std::ostream& operator<<(std::ostream& os, const canvas_error& e);

// Where the new messages come from: the publishing process and its clock.
struct publish_context {
  std::optional<std::string> origin{};   // headers.origin; default default_origin()
  std::optional<util::wall_time> now{};  // default wall_now()
};

// send_task for a plain task signature whose args and options are final
// (lib/celery/canvas_apply.hpp merges them as Celery's canvas does):
// argsrepr in the given outer form (Python's tuple after a clone or a
// prepend, the signature's own list otherwise).
boost::system::result<task_message, canvas_error> task_message_for(const signature& sig, sequence_style args_style,
                                                                   const publish_context& ctx = {});

// The message Celery's worker publishes when `finished` succeeded with
// `result` and embed.chain is non-empty: pops the LAST element of
// embed.chain (the chain is stored reversed), prepends `result` to its args
// unless immutable, id = options.task_id (new uuid4 if missing),
// parent_id = finished id, root_id = finished root_id (or its id), and the
// rest of the chain as the new embed.chain ([] on the last step).
// nullopt when there is no chain step left.
boost::system::result<std::optional<task_message>, canvas_error> next_chain_message(
    const task_message& finished, const json::value& result, const publish_context& ctx = {});

// One link callback applied to the parent's result (prepended unless
// immutable); parent_id = parent id, root_id = parent root_id.
boost::system::result<task_message, canvas_error> callback_message(
    const signature& sig, const json::value& result, const task_message& parent,
    const publish_context& ctx = {});

// All of parent.embed.callbacks, as Celery publishes them: one callback is
// applied alone; several are applied as one group (they share a new
// headers.group id, group_index null). Empty when there are none.
boost::system::result<std::vector<task_message>, canvas_error> callback_messages(
    const task_message& parent, const json::value& result, const publish_context& ctx = {});

// One link_error errback for `failed`. Celery 5.2 (_call_task_errbacks)
// calls errbacks whose function takes (request, exc, traceback) in-process;
// every other errback, and any errback not registered in the worker, is
// published with args = (failed task id,) + sig.args (unless immutable),
// parent_id = failed id, root_id = failed root_id or id, and always as a
// member of a group: pass the shared `group_id`. A C++ worker has no
// Python errback functions, so this message form is the one to use; the
// exception itself reaches the errback only through the failed task's
// stored result.
boost::system::result<task_message, canvas_error> errback_message(
    const signature& sig, const task_message& failed, const std::string& group_id,
    const publish_context& ctx = {});

// All of failed.embed.errbacks as one group sharing a new group id. Empty
// when there are none.
boost::system::result<std::vector<task_message>, canvas_error> errback_messages(
    const task_message& failed, const publish_context& ctx = {});

// The chord body once every header task is done: args = [results in
// group_index order] + body.args (unless immutable), id = body
// options.task_id, parent_id = the header task that completed the chord,
// root_id = its root_id (callback.delay(results) inside that task).
boost::system::result<task_message, canvas_error> chord_callback_message(
    const signature& body, json::array results, const task_message& completing,
    const publish_context& ctx = {});

struct retry_options {
  // eta = now + countdown; when neither is set Celery's default_retry_delay
  // (180 s) applies.
  std::optional<double> countdown{};
  std::optional<util::wall_time> eta{};
  std::optional<json::array> args{};     // default: the current args
  std::optional<json::object> kwargs{};  // default: the current kwargs
};

// Task.retry(): the same task id and args re-published with retries + 1,
// the new eta, parent_id = current parent_id or (when null) the current id,
// root_id, group, group_index, shadow, expires, time limits, reply_to,
// ignore_result, callbacks/errbacks/chain/chord and the queue and priority
// kept; extra properties "replaced_task_nesting": 0 and "origin": current
// headers.origin as Celery adds them; custom headers are not carried
// (Celery 5.2 drops them too). argsrepr uses the tuple form.
task_message retry_message(const task_message& current, const retry_options& options = {},
                           const publish_context& ctx = {});

}  // namespace celeriac::celery
