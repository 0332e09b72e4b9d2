#pragma once
// Celery 5.2's canvas applied from inside a worker task: what
// Signature.apply_async publishes for a task, a group, a chain or a chord
// signature met as the next chain step, a link callback or a chord body
// (celery/canvas.py: Signature._merge/clone/freeze, group.apply_async,
// _prepared, _apply_tasks, _freeze_group_tasks, _chain.run/prepare_steps,
// _chord.apply_async/run/freeze/_descend; celery/app/base.py send_task).
//
// Celery's client builds these publications when the canvas starts; a
// worker builds them when a step it finished hands on to a group or a
// chord (`add.s(1) | group(...)`, `add.s(1) | group(...) | tsum.s()`, a
// chord whose body is a chain or a group). The rules reproduced:
//   * partial args are prepended unless the signature is immutable;
//   * options given by the caller win over the signature's own, except a
//     group_id the signature already has;
//   * send_task's defaults: parent_id = the running task, root_id = its
//     root (or its id);
//   * a group publishes its members (nested groups flattened) under one
//     group id (its options.task_id, else a new uuid4), members keeping
//     their group_index;
//   * a chain publishes its first step with the rest in embed.chain
//     (reversed), a group followed by a step becoming a chord;
//   * a chord gets a new group id, its body carries the caller's options
//     (chain, parent_id, root_id, priority), the header members carry
//     group, group_index and embed.chord = the body, and the chord size
//     (_descend: a member chain counts its last step, a member chord its
//     body) is written before the members; an empty header sends the body
//     at once with [] (body.delay([])).
// One deliberate difference: a plain group whose members belong to an
// enclosing chord (a chain ending in a group, inside a chord header) does
// not rewrite that chord's size. Celery 5.2's worker does (_apply_tasks
// sees the members' chord option) and so fires the chord early with a
// missing result; the enclosing chord's client already counted them.

#include <cstdint>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "celery/canvas.hpp"
#include "celery/task_message.hpp"
#include "json/value.hpp"

namespace celeriac::celery {

// celery-taskset-meta-<group_id>.s := size (set_chord_size).
struct chord_size_write {
  std::string group_id;
  std::int64_t size = 0;
};

// celery-taskset-meta-<group_id> := value (GroupResult.save(): a chord
// header with a group among its results, joined by structure).
struct saved_group_write {
  std::string group_id;
  std::string value;  // {"result": <GroupResult.as_tuple()>}
};

// What one apply_async publishes. Sizes and saved groups must be stored
// before any message is sent (a member may finish at once).
struct canvas_publication {
  std::vector<chord_size_write> chord_sizes;
  std::vector<saved_group_write> saved_groups;
  std::vector<task_message> messages;  // in publish order
  // What the running task's result lists in `children` (Celery's
  // add_trail): each result tuple its apply_async calls returned.
  json::array trail;

  void append(canvas_publication other);
  bool empty() const noexcept { return chord_sizes.empty() && saved_groups.empty() && messages.empty(); }
};

// The task running in the worker (Celery's current_worker_task): the
// default parent and root of everything it publishes.
struct current_task {
  std::string id;
  std::string root_id;  // its root_id, or its id when it has none
};

// sig.apply_async(args, **options) inside `current`. `options` are the
// caller's (Celery's worker passes chain, parent_id, root_id for a chain
// step). Fails for signatures that are not tasks, groups, chains or
// chords (xmap, chunks...) or that are malformed.
boost::system::result<canvas_publication, canvas_error> apply_canvas(const json::value& sig, json::array args,
                                                                     const json::object& options,
                                                                     const current_task& current,
                                                                     const publish_context& ctx = {});

// What Celery's worker publishes for the next chain step once `finished`
// returned `result` (celery/app/trace.py: chain.pop().apply_async(
// (retval,), chain=rest, parent_id=id, root_id=root, priority=None)),
// whatever the step is: a task (as next_chain_message), a group or a
// chord. Empty when the chain is done.
boost::system::result<canvas_publication, canvas_error> next_chain_publication(const task_message& finished,
                                                                               const json::value& result,
                                                                               const publish_context& ctx = {});

// _chord._descend: how many completions a header member contributes (a
// task 1, a group the sum of its members, a chain its last non-empty step,
// a chord its body). 0 for what cannot be read.
std::int64_t chord_size_of(const json::value& sig);

// The task ids a signature's results are stored under once it runs: a
// task's options.task_id; a group's, a chain's and a chord's own
// options.task_id (when set) and those of what they contain (a chord: its
// body's). Used to fail a chord body that will never run.
std::vector<std::string> result_ids_of(const json::value& sig);

}  // namespace celeriac::celery
