#pragma once
// A chord's join on Celery 5.2's Redis result backend: the pure parts
// (celery/backends/redis.py on_chord_part_return and _unpack_chord_result,
// celery/backends/base.py mark_as_failure, chord_error_from_stack and
// exception_to_python). The Redis steps are lib/broker/chord_store.hpp.
//
// The keys, for a chord whose header is group <gid> (prefix
// celery-taskset-meta-<gid>):
//   .j  zset   one member per finished header task, json [1, id, state,
//              result], scored by its group_index (+inf when it has none)
//   .s  string the header's size, written by whoever applies the chord
//   .t  string extra members added at run time (Task.add_to_chord); absent
//              in a normal chord
//   (no suffix) a GroupResult saved when the header holds groups: the body
//              then gets nested lists, read from each task's own result
// The chord is complete when ZCARD .j == int(.s) + int(.t or 0); the
// member that completes it sends the body with the results in .j order
// (group_index order) and deletes the three keys. A FAILURE or REVOKED
// member fails the body instead, with ChordError("Dependency <id> raised
// <repr(exception)>").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/system/result.hpp>

#include "celery/canvas.hpp"
#include "celery/canvas_apply.hpp"
#include "celery/result_meta.hpp"
#include "celery/task_message.hpp"
#include "json/value.hpp"

namespace celeriac::celery {

struct chord_keys {
  std::string join;   // celery-taskset-meta-<gid>.j
  std::string extra;  // .t
  std::string size;   // .s
  std::string saved;  // celery-taskset-meta-<gid>
};
chord_keys chord_keys_for(std::string_view group_id);

// One header task's outcome joining its chord (Celery's request.group,
// request.id, request.group_index and request.chord).
struct chord_part {
  std::string group_id;
  std::string task_id;
  std::optional<std::int64_t> group_index;
  json::value body;   // the chord body signature
  std::string state;  // SUCCESS, FAILURE or REVOKED
  json::value result;  // the return value, or the stored exception object

  // The .j member: json.dumps([1, task_id, state, result]).
  std::string member() const;
  // Its score: the group_index, or "+inf".
  std::string score() const;
  // "[1, \"<task_id>\", ": how every member of this task starts, whatever
  // its state and result (to find a second run's member).
  std::string member_prefix() const;
};

// The part a finished task brings, when it is a chord header member
// (embed.chord set and a group id, as Celery requires).
std::optional<chord_part> chord_part_of(const task_message& m, std::string state, json::value result);

// mark_as_failure's walk along a failed task's remaining chain: every
// later step with a task id gets the same FAILURE stored (with its own
// group_id and parent_id), and a step that is a chord header member
// (options.chord) fails its chord too, so a chain inside a chord header
// cannot stall the chord.
struct chain_step_failure {
  std::string task_id;
  meta_context context;
  std::optional<chord_part> part;
};
std::vector<chain_step_failure> chain_failures(const task_message& failed, const json::value& exception);

// A .j member or a saved GroupResult that cannot be read.
struct chord_read_error {
  std::string message;
};

// A .j member read back.
struct chord_member {
  std::string task_id;
  std::string state;
  json::value result;
};
boost::system::result<chord_member, chord_read_error> decode_chord_member(std::string_view text);

// Why a chord fails: ChordError's message.
struct chord_failed {
  std::string message;
};
// What the header gave: the body's first argument, or its failure.
using chord_outcome = std::variant<json::array, chord_failed>;

// The outcome from the .j members in zset order: their results in that
// order, unless a FAILURE or REVOKED member fails the chord ("Dependency
// <id> raised <repr>", the first in order) or a member cannot be read
// ("Join error: ...").
chord_outcome chord_outcome_of(const std::vector<std::string>& members);

// A saved GroupResult (complex header): the ids whose stored results make
// the body's argument, in order; an error text when it cannot be read.
boost::system::result<std::vector<std::string>, chord_read_error> saved_group_task_ids(std::string_view saved);
// The nested results, `metas` being the stored result of each id of
// saved_group_task_ids (nullopt: none stored). A failed one fails the
// chord ("Join error: <repr>"), as does one that is missing or not ready
// (Celery's join times out then).
chord_outcome saved_group_outcome(std::string_view saved, const std::vector<std::optional<std::string>>& metas);

// repr() of the exception Celery's exception_to_python rebuilds from a
// stored {"exc_type", "exc_message", "exc_module"}: RuntimeError('boom'),
// TaskRevokedError('revoked'), ValueError(), NotRegistered's own text.
std::string exception_repr(const json::value& exception);

// What completes a chord: the body sent with the results, or, when the
// chord failed (or the body cannot be applied: "Callback error: ..."),
// a ChordError FAILURE stored for every result id of the body
// (result_ids_of; Celery stores only options.task_id, so a chain or group
// body is left pending there) and its link_error errbacks sent as one
// group with args (body id,), parent and root = the body id.
struct chord_completion {
  canvas_publication publication;
  std::vector<result_meta> failures;
  std::optional<std::string> error;  // the ChordError message, when failed
};
chord_completion complete_chord(const json::value& body, chord_outcome outcome, const current_task& completing,
                                const publish_context& ctx = {});

// The traceback text stored with ChordError.
std::string chord_error_traceback(std::string_view message);

}  // namespace celeriac::celery
