#include "celery/canvas_apply.hpp"

#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "celery/message_builder.hpp"
#include "celery/result_meta.hpp"
#include "celery/signature.hpp"
#include "json/dump.hpp"
#include "util/uuid.hpp"

namespace celeriac::celery {

void canvas_publication::append(canvas_publication other) {
  for (auto& s : other.chord_sizes) chord_sizes.push_back(std::move(s));
  for (auto& g : other.saved_groups) saved_groups.push_back(std::move(g));
  for (auto& m : other.messages) messages.push_back(std::move(m));
  for (auto& t : other.trail) trail.push_back(std::move(t));
}

namespace {

// Thrown inside this file only; apply_canvas turns it into a canvas_error.
struct canvas_failure {
  std::string message;
};

[[noreturn]] void fail(std::string message) { throw canvas_failure{std::move(message)}; }

enum class kind { task, group, chain, chord };

// ---- options, as Python dicts -------------------------------------------

const json::value* find_option(const json::object& o, std::string_view key) {
  for (const auto& [k, v] : o)
    if (k == key) return &v;
  return nullptr;
}

// dict[key] = v: replaced in place, or appended.
void set_option(json::object& o, std::string_view key, json::value v) {
  for (auto& [k, item] : o)
    if (k == key) {
      item = std::move(v);
      return;
    }
  o.emplace_back(std::string(key), std::move(v));
}

// dict.pop(key, None).
json::value pop_option(json::object& o, std::string_view key) {
  for (auto it = o.begin(); it != o.end(); ++it)
    if (it->first == key) {
      json::value v = std::move(it->second);
      o.erase(it);
      return v;
    }
  return nullptr;
}

// dict(a, **b).
json::object updated(json::object a, const json::object& b) {
  for (const auto& [k, v] : b) set_option(a, k, v);
  return a;
}

std::optional<std::string> string_of(const json::value* v) {
  if (v && v->is_string() && !v->as_string().empty()) return v->as_string();
  return std::nullopt;
}

json::value string_or_null(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

// ---- signatures ---------------------------------------------------------

signature decode(const json::value& v, std::string_view where) {
  auto s = decode_signature(v);
  if (!s) fail(fmt::format("{}: {}", where, s.error().message));
  return std::move(*s);
}

kind kind_of(const signature& s) {
  if (s.subtask_type.is_null()) return kind::task;
  if (s.subtask_type.is_string()) {
    const std::string& t = s.subtask_type.as_string();
    if (t == "group") return kind::group;
    if (t == "chain") return kind::chain;
    if (t == "chord") return kind::chord;
  }
  fail(fmt::format("cannot apply a {} signature ({}): celeriac applies tasks, groups, chains and chords; "
                   "run this canvas from a Celery worker instead",
                   json::dump(s.subtask_type), s.task));
}

// group and chain: kwargs.tasks.
std::vector<signature> tasks_of(const signature& s) {
  std::vector<signature> out;
  const json::value* tasks = find_option(s.kwargs, "tasks");
  if (!tasks || tasks->is_null()) return out;
  if (!tasks->is_array()) fail(fmt::format("{} signature has kwargs.tasks that is not a list", s.task));
  for (const auto& t : tasks->as_array()) out.push_back(decode(t, fmt::format("a task of {}", s.task)));
  return out;
}

void set_tasks(signature& s, const std::vector<signature>& tasks) {
  json::array list;
  for (const auto& t : tasks) list.push_back(to_json(t));
  set_option(s.kwargs, "tasks", std::move(list));
}

signature make_group(const std::vector<signature>& tasks) {
  signature g;
  g.task = "celery.group";
  g.subtask_type = "group";
  set_tasks(g, tasks);
  return g;
}

// _maybe_group(kwargs.header): a group's or chain's tasks, one signature,
// or a list of them.
std::vector<signature> chord_header_tasks(const signature& c) {
  const json::value* header = find_option(c.kwargs, "header");
  if (!header || header->is_null()) return {};
  if (header->is_array()) {
    std::vector<signature> out;
    for (const auto& t : header->as_array()) out.push_back(decode(t, "a chord header task"));
    return out;
  }
  signature h = decode(*header, "a chord header");
  if (h.subtask_type == json::value("group") || h.subtask_type == json::value("chain")) return tasks_of(h);
  return {std::move(h)};
}

signature chord_body(const signature& c) {
  const json::value* body = find_option(c.kwargs, "body");
  if (!body || body->is_null()) fail(fmt::format("chord signature {} has no body", c.task));
  return decode(*body, "a chord body");
}

// chord(header_group, body, task_id=..., root_id=...) as prepare_steps
// builds it for `group | step`.
signature make_chord(const signature& header, const signature& body, const std::optional<std::string>& task_id,
                     const std::optional<std::string>& root_id) {
  signature c;
  c.task = "celery.chord";
  c.subtask_type = "chord";
  json::array header_tasks;
  for (const auto& t : tasks_of(header)) header_tasks.push_back(to_json(t));
  c.kwargs = json::object{{"kwargs", json::object{}}, {"header", std::move(header_tasks)}, {"body", to_json(body)}};
  if (task_id) c.options.emplace_back("task_id", *task_id);
  c.options.emplace_back("root_id", string_or_null(root_id));
  return c;
}

// Signature.clone(args, **options) / _merge: args prepended unless
// immutable; options win except a group_id already set.
signature clone(signature s, const json::array& args, const json::object& options) {
  for (const auto& [k, v] : options)
    if (k != "group_id" || !find_option(s.options, k)) set_option(s.options, k, v);
  if (!s.immutable && !args.empty()) {
    json::array merged = args;
    merged.insert(merged.end(), s.args.begin(), s.args.end());
    s.args = std::move(merged);
  }
  return s;
}

// `task.link_error(errback)` for each kind.
void add_errback(signature& s, const json::value& errback) {
  switch (kind_of(s)) {
    case kind::group: {
      auto tasks = tasks_of(s);
      for (auto& t : tasks) add_errback(t, errback);
      set_tasks(s, tasks);
      return;
    }
    case kind::chord: {
      signature body = chord_body(s);
      add_errback(body, errback);
      set_option(s.kwargs, "body", to_json(body));
      return;
    }
    default: {
      const json::value* list = find_option(s.options, "link_error");
      json::array items = list && list->is_array() ? list->as_array() : json::array{};
      if (list && list->is_object()) items.push_back(*list);
      for (const auto& item : items)
        if (item == errback) return;
      items.push_back(errback);
      set_option(s.options, "link_error", std::move(items));
    }
  }
}

// ---- freezing: ids and options fixed before anything is sent -------------

// An AsyncResult or GroupResult as freeze() returns it. Shared, because
// Celery links results to their parents after the fact (prepare_steps,
// _chord.freeze) and the links must show wherever the result is held.
struct frozen_result;
using result_ptr = std::shared_ptr<frozen_result>;
struct frozen_result {
  std::string id{};
  bool is_group = false;
  std::vector<result_ptr> children{};  // a group's members
  result_ptr parent{};                 // the step or header before this one
};

result_ptr task_result(std::string id) { return std::make_shared<frozen_result>(frozen_result{std::move(id)}); }

// result.parent of the first result along the parent links without one.
void attach_parent(result_ptr r, result_ptr parent) {
  for (; r; r = r->parent)
    if (!r->parent) {
      r->parent = std::move(parent);
      return;
    }
}

struct freeze_args {
  std::optional<std::string> id{};
  std::optional<std::string> group_id{};
  json::value chord{};
  std::optional<std::string> root_id{};
  std::optional<std::string> parent_id{};
  std::optional<std::int64_t> group_index{};
};

result_ptr freeze(signature& s, const freeze_args& a);

// opts['task_id'] if there is one, else `fresh` stored there.
std::string frozen_id(json::object& options, const std::optional<std::string>& fresh) {
  if (const json::value* t = find_option(options, "task_id")) return t->is_string() ? t->as_string() : std::string();
  std::string id = fresh.value_or(util::uuid4());
  set_option(options, "task_id", id);
  return id;
}

// Signature.freeze.
result_ptr freeze_task(signature& s, const freeze_args& a) {
  std::string id = frozen_id(s.options, a.id);
  if (a.root_id) set_option(s.options, "root_id", *a.root_id);
  if (a.parent_id) set_option(s.options, "parent_id", *a.parent_id);
  if (!find_option(s.options, "reply_to")) set_option(s.options, "reply_to", process_oid());
  if (a.group_id && !find_option(s.options, "group_id")) set_option(s.options, "group_id", *a.group_id);
  if (!a.chord.is_null()) set_option(s.options, "chord", a.chord);
  if (a.group_index) set_option(s.options, "group_index", *a.group_index);
  return task_result(std::move(id));
}

// dict.setdefault(key, value) for an optional string.
std::optional<std::string> setdefault(json::object& o, std::string_view key, const std::optional<std::string>& v) {
  if (const json::value* existing = find_option(o, key)) return string_of(existing);
  o.emplace_back(std::string(key), string_or_null(v));
  return v;
}

// group._freeze_group_tasks / _freeze_unroll: nested groups are flattened
// (deque.extendleft: their members come in reverse order, as in Celery).
result_ptr freeze_group(signature& g, const freeze_args& a) {
  std::string gid = frozen_id(g.options, a.group_id);
  if (a.group_id) set_option(g.options, "group_id", *a.group_id);
  if (!a.chord.is_null()) set_option(g.options, "chord", a.chord);
  if (a.group_index) set_option(g.options, "group_index", *a.group_index);
  const auto root_id = setdefault(g.options, "root_id", a.root_id);
  const auto parent_id = setdefault(g.options, "parent_id", a.parent_id);

  auto pending = tasks_of(g);
  std::deque<signature> stack(pending.begin(), pending.end());
  std::vector<signature> frozen;
  auto result = std::make_shared<frozen_result>(frozen_result{gid, true});
  std::int64_t index = 0;
  while (!stack.empty()) {
    signature task = std::move(stack.front());
    stack.pop_front();
    if (kind_of(task) == kind::group) {
      for (auto& member : tasks_of(task)) stack.push_front(std::move(member));
      continue;
    }
    result->children.push_back(freeze(task, {.id = std::nullopt,
                                            .group_id = a.group_id,
                                            .chord = a.chord,
                                            .root_id = root_id,
                                            .parent_id = parent_id,
                                            .group_index = index++}));
    frozen.push_back(std::move(task));
  }
  set_tasks(g, frozen);
  return result;
}

// maybe_unroll_group: a group of one is that one task.
signature maybe_unroll_group(signature g) {
  auto tasks = tasks_of(g);
  if (tasks.size() == 1) return std::move(tasks.front());
  return g;
}

struct prepared_steps {
  std::vector<signature> tasks;  // the last step first, as embed.chain wants
  std::vector<result_ptr> results;
};

struct steps_args {
  json::array args{};  // prepended to the first step
  std::optional<std::string> root_id{};
  std::optional<std::string> parent_id{};
  json::value link_error{};  // null, a signature or a list of them
  std::optional<std::string> last_task_id{};
  std::optional<std::string> group_id{};
  json::value chord{};
  bool clone = true;
  std::optional<std::int64_t> group_index{};
};

// _chain.prepare_steps: walks the steps from the last, splices nested
// chains, turns `group | step` into a chord, and freezes each step; the
// last one gets the chain's group, chord and group_index.
prepared_steps prepare_steps(std::vector<signature> steps_in, const steps_args& a) {
  std::deque<signature> steps(steps_in.begin(), steps_in.end());
  prepared_steps out;
  result_ptr prev_res;
  std::size_t i = 0;
  while (!steps.empty()) {
    signature task = std::move(steps.back());
    steps.pop_back();
    const bool is_first = steps.empty();
    const bool is_last = i == 0;
    if (kind_of(task) == kind::group) task = maybe_unroll_group(std::move(task));
    if (is_first) {
      if (a.clone) {
        task = clone(std::move(task), a.args, {});
      } else {
        json::array merged = a.args;
        merged.insert(merged.end(), task.args.begin(), task.args.end());
        task.args = std::move(merged);
      }
    }
    if (kind_of(task) == kind::chain) {
      for (auto& t : tasks_of(task)) steps.push_back(std::move(t));
      continue;
    }
    if (kind_of(task) == kind::group && prev_res) {
      signature body = std::move(out.tasks.back());
      out.tasks.pop_back();
      out.results.pop_back();
      std::optional<std::string> body_id;
      if (!prev_res->is_group) body_id = prev_res->id;  // a GroupResult has no task_id
      task = make_chord(task, body, body_id, a.root_id);
    }
    result_ptr res = is_last ? freeze(task, {.id = a.last_task_id,
                                                .group_id = a.group_id,
                                                .chord = a.chord,
                                                .root_id = a.root_id,
                                                .parent_id = std::nullopt,
                                                .group_index = a.group_index})
                                : freeze(task, {.root_id = a.root_id});
    ++i;
    if (a.link_error.is_array()) {
      for (const auto& eb : a.link_error.as_array()) add_errback(task, eb);
    } else if (!a.link_error.is_null()) {
      add_errback(task, a.link_error);
    }
    if (prev_res && !prev_res->parent) prev_res->parent = res;
    prev_res = res;
    // After a chord, the step before it is the parent of the header.
    if (kind_of(task) == kind::chord)
      while (prev_res->parent) prev_res = prev_res->parent;
    out.tasks.push_back(std::move(task));
    out.results.push_back(std::move(res));
  }
  return out;
}

// _chord.freeze: the body first (the header members embed it), then the
// header as a new group whose id becomes the chord's.
result_ptr freeze_chord(signature& c, const freeze_args& a) {
  signature body = chord_body(c);
  result_ptr body_res = freeze(body, {.id = a.id,
                                         .group_id = a.group_id,
                                         .chord = a.chord,
                                         .root_id = a.root_id,
                                         .parent_id = std::nullopt,
                                         .group_index = a.group_index});
  signature header = make_group(chord_header_tasks(c));
  result_ptr header_res =
      freeze_group(header, {.chord = to_json(body), .root_id = a.root_id, .parent_id = a.parent_id});
  attach_parent(body_res, header_res);
  set_option(c.kwargs, "header", to_json(header));
  set_option(c.kwargs, "body", to_json(body));
  set_option(c.options, "task_id", header_res->id);
  return body_res;
}

result_ptr freeze(signature& s, const freeze_args& a) {
  switch (kind_of(s)) {
    case kind::task:
      return freeze_task(s, a);
    case kind::group:
      return freeze_group(s, a);
    case kind::chord:
      return freeze_chord(s, a);
    case kind::chain: {
      auto steps = prepare_steps(tasks_of(s), {.args = s.args,
                                               .root_id = a.root_id,
                                               .parent_id = a.parent_id,
                                               .last_task_id = a.id,
                                               .group_id = a.group_id,
                                               .chord = a.chord,
                                               .clone = false,
                                               .group_index = a.group_index});
      // Written back in execution order: the frozen steps are what the
      // chain carries from now on.
      std::vector<signature> in_order(steps.tasks.rbegin(), steps.tasks.rend());
      set_tasks(s, in_order);
      s.args.clear();
      if (steps.results.empty()) return task_result({});
      return steps.results.front();
    }
  }
  return task_result({});
}

// AsyncResult/GroupResult.as_tuple(): ((id, parent), None) or
// ((id, parent), [members]).
json::value as_tuple(const frozen_result& r) {
  json::array head{json::value(r.id), r.parent ? as_tuple(*r.parent) : json::value(nullptr)};
  if (!r.is_group) return json::array{std::move(head), nullptr};
  json::array children;
  for (const auto& c : r.children) children.push_back(as_tuple(*c));
  return json::array{std::move(head), std::move(children)};
}

std::int64_t descend(const signature& s) {
  switch (kind_of(s)) {
    case kind::task:
      return 1;
    case kind::group: {
      std::int64_t n = 0;
      for (const auto& t : tasks_of(s)) n += descend(t);
      return n;
    }
    case kind::chain: {
      auto tasks = tasks_of(s);
      for (auto it = tasks.rbegin(); it != tasks.rend(); ++it)
        if (auto n = descend(*it); n > 0) return n;
      return 0;
    }
    case kind::chord:
      return descend(chord_body(s));
  }
  return 0;
}

// ---- applying ------------------------------------------------------------

struct applier {
  const current_task& current;
  const publish_context& ctx;

  canvas_publication apply(const signature& s, const json::array& args, const json::object& options,
                           bool cloned) const {
    switch (kind_of(s)) {
      case kind::task:
        return apply_task(s, args, options, cloned);
      case kind::group:
        return apply_group(s, args, options, false);
      case kind::chain:
        return apply_chain(s, args, options);
      case kind::chord:
        return apply_chord(s, args, options, cloned);
    }
    return {};
  }

  // Signature.apply_async → send_task. Options set to None are dropped.
  canvas_publication apply_task(signature s, const json::array& args, const json::object& options,
                                bool cloned) const {
    json::object given;
    for (const auto& [k, v] : options)
      if (!v.is_null()) given.emplace_back(k, v);
    const bool prepends = !args.empty() && !s.immutable;
    s = clone(std::move(s), args, given);
    if (!string_of(find_option(s.options, "root_id")) && !current.id.empty())
      set_option(s.options, "root_id", current.root_id.empty() ? current.id : current.root_id);
    if (!string_of(find_option(s.options, "parent_id")) && !current.id.empty())
      set_option(s.options, "parent_id", current.id);
    auto m = task_message_for(s, prepends || cloned ? sequence_style::tuple : sequence_style::list, ctx);
    if (!m) fail(m.error().message);
    canvas_publication p;
    if (adds_to_parent(options)) p.trail.push_back(child_result(m->headers.id));
    p.messages.push_back(std::move(*m));
    return p;
  }

  // send_task(add_to_parent=...): what the running task lists in its
  // result's children. Group members are sent with False.
  static bool adds_to_parent(const json::object& options) {
    const json::value* v = find_option(options, "add_to_parent");
    return !v || !v->is_bool() || v->as_bool();
  }

  // group._prepared: clones, flattens nested groups, freezes each member
  // into the group.
  void prepared(const std::vector<signature>& tasks, const std::string& group_id,
                const std::optional<std::string>& root_id, std::vector<signature>& out,
                std::vector<result_ptr>& results) const {
    for (signature task : tasks) {
      if (kind_of(task) == kind::group) {
        prepared(tasks_of(task), group_id, root_id, out, results);
        continue;
      }
      results.push_back(freeze(task, {.group_id = group_id, .root_id = root_id}));
      out.push_back(std::move(task));
    }
  }

  // group.apply_async / _apply_tasks. chord_header: the group is a chord's
  // header being applied, so its size is written (see the header comment).
  canvas_publication apply_group(const signature& g, const json::array& args, const json::object& options,
                                 bool chord_header) const {
    canvas_publication p;
    auto tasks = tasks_of(g);
    if (tasks.empty()) return p;
    json::object opts = updated(g.options, options);
    json::value task_id = pop_option(opts, "task_id");
    const std::string group_id = string_of(&task_id).value_or(util::uuid4());
    set_option(opts, "group_id", group_id);
    const auto root_id = string_of(find_option(opts, "root_id"));
    const json::value chord = pop_option(opts, "chord");

    std::vector<signature> members;
    std::vector<result_ptr> results;
    prepared(tasks, group_id, root_id, members, results);
    std::int64_t size = 0;
    for (std::size_t i = 0; i < members.size(); ++i) {
      const signature& m = members[i];
      json::value member_chord = chord;
      if (member_chord.is_null())
        if (const json::value* own = find_option(m.options, "chord")) member_chord = *own;
      size += descend(m);
      if (chord_header && i + 1 == members.size() && !member_chord.is_null())
        p.chord_sizes.push_back(chord_size_write{group_id, size});
      // sig.apply_async(add_to_parent=False, chord=chord_obj, **options),
      // in that keyword order (a member chord's body keeps them).
      json::object member_options{{"add_to_parent", false}, {"chord", member_chord}};
      member_options = updated(std::move(member_options), opts);
      p.append(apply(m, args, member_options, true));
    }
    if (adds_to_parent(opts)) {
      // GroupResult(group_id, results), or its one member when that is a
      // group itself.
      auto result = std::make_shared<frozen_result>(frozen_result{group_id, true, results});
      if (results.size() == 1 && results[0]->is_group) result = results[0];
      p.trail.push_back(as_tuple(*result));
    }
    return p;
  }

  // _chain.apply_async → run: the first step is sent with the others in
  // its embed.chain.
  canvas_publication apply_chain(const signature& c, const json::array& args, const json::object& options) const {
    json::object opts = updated(c.options, options);
    steps_args a;
    a.args = !args.empty() && !c.immutable ? args : json::array{};
    a.args.insert(a.args.end(), c.args.begin(), c.args.end());
    json::value v = pop_option(opts, "group_id");
    a.group_id = string_of(&v);
    a.chord = pop_option(opts, "chord");
    v = pop_option(opts, "task_id");
    a.last_task_id = string_of(&v);
    json::value link = pop_option(opts, "link");
    a.link_error = pop_option(opts, "link_error");
    v = pop_option(opts, "root_id");
    a.root_id = string_of(&v);
    v = pop_option(opts, "parent_id");
    a.parent_id = string_of(&v);
    v = pop_option(opts, "group_index");
    if (v.is_integer()) a.group_index = v.as_integer();

    auto steps = prepare_steps(tasks_of(c), a);
    if (steps.tasks.empty()) return {};
    if (!link.is_null()) {  // tasks[0].extend_list_option('link', link)
      signature& last = steps.tasks.front();
      const json::value* own = find_option(last.options, "link");
      json::array links = own && own->is_array() ? own->as_array() : json::array{};
      if (link.is_array())
        links.insert(links.end(), link.as_array().begin(), link.as_array().end());
      else
        links.push_back(link);
      set_option(last.options, "link", std::move(links));
    }
    signature first = std::move(steps.tasks.back());
    steps.tasks.pop_back();
    json::array rest;
    if (const json::value* chain = find_option(opts, "chain"); chain && chain->is_array()) rest = chain->as_array();
    for (const auto& t : steps.tasks) rest.push_back(to_json(t));
    set_option(opts, "chain", std::move(rest));
    return apply(first, {}, opts, true);
  }

  // _chord.apply_async → run. A chord frozen here (a group member, a
  // chain's first step) keeps the group id its freeze gave the header; one
  // read from a message gets a new one (from_dict drops the header's
  // options, so Celery's header.options.get('task_id') is None).
  canvas_publication apply_chord(const signature& c, const json::array& args, const json::object& options,
                                 bool frozen) const {
    json::array partial = !args.empty() && !c.immutable ? args : json::array{};
    partial.insert(partial.end(), c.args.begin(), c.args.end());
    signature body = clone(chord_body(c), {}, options);
    auto header_tasks = chord_header_tasks(c);
    json::object opts = updated(c.options, options);
    json::value task_id = pop_option(opts, "task_id");

    canvas_publication p;
    std::optional<std::string> frozen_id;
    if (const json::value* h = find_option(c.kwargs, "header"); frozen && h && h->is_object())
      if (const json::value* o = h->find("options"); o && o->is_object()) frozen_id = string_of(o->find("task_id"));
    const std::string group_id = frozen_id.value_or(util::uuid4());
    const auto root_id = string_of(find_option(body.options, "root_id"));
    for (const auto& [k, v] : opts) set_option(body.options, k, v);
    freeze(body, {.id = string_of(&task_id), .root_id = root_id});
    pop_option(opts, "chain");
    pop_option(opts, "chord");

    signature header = make_group(header_tasks);
    result_ptr header_res =
        freeze_group(header, {.group_id = group_id, .chord = to_json(body), .root_id = root_id});
    if (header_tasks.empty()) {
      p.append(apply(body, json::array{json::array{}}, {}, false));  // body.delay([])
      return p;
    }
    // backend.apply_chord: a header holding a group result is saved, so
    // the completer can give the body nested lists.
    for (const auto& r : header_res->children)
      if (r->is_group) {
        const frozen_result saved{group_id, true, header_res->children};
        p.saved_groups.push_back({group_id, json::dump(json::object{{"result", as_tuple(saved)}})});
        break;
      }
    set_option(opts, "task_id", group_id);
    p.append(apply_group(header, partial, opts, true));
    return p;
  }
};

void collect_result_ids(const signature& s, std::vector<std::string>& out) {
  if (auto id = string_of(find_option(s.options, "task_id"))) out.push_back(*id);
  switch (kind_of(s)) {
    case kind::task:
      return;
    case kind::group:
    case kind::chain:
      for (const auto& t : tasks_of(s)) collect_result_ids(t, out);
      return;
    case kind::chord:
      collect_result_ids(chord_body(s), out);
      return;
  }
}

}  // namespace

boost::system::result<canvas_publication, canvas_error> apply_canvas(const json::value& sig, json::array args,
                                                                     const json::object& options,
                                                                     const current_task& current,
                                                                     const publish_context& ctx) {
  try {
    signature s = decode(sig, "cannot apply signature");
    return applier{current, ctx}.apply(s, args, options, false);
  } catch (const canvas_failure& e) {
    return canvas_error{e.message};
  }
}

boost::system::result<canvas_publication, canvas_error> next_chain_publication(const task_message& finished,
                                                                               const json::value& result,
                                                                               const publish_context& ctx) {
  const json::value& chain = finished.embed.chain;
  if (chain.is_null() || (chain.is_array() && chain.as_array().empty())) return canvas_publication{};
  if (!chain.is_array())
    return canvas_error{fmt::format("task {}[{}] has embed.chain that is not a list", finished.headers.task,
                                    finished.headers.id)};
  json::array rest(chain.as_array().begin(), chain.as_array().end() - 1);
  const current_task current{finished.headers.id, finished.root_id_or_id()};
  json::object options{{"chain", std::move(rest)},
                       {"parent_id", current.id},
                       {"root_id", current.root_id},
                       {"priority", nullptr}};
  return apply_canvas(chain.as_array().back(), json::array{result}, options, current, ctx);
}

std::int64_t chord_size_of(const json::value& sig) {
  try {
    return descend(decode(sig, "chord header member"));
  } catch (const canvas_failure&) {
    return 0;
  }
}

std::vector<std::string> result_ids_of(const json::value& sig) {
  std::vector<std::string> out;
  try {
    collect_result_ids(decode(sig, "chord body"), out);
  } catch (const canvas_failure&) {
  }
  return out;
}

}  // namespace celeriac::celery
