#include "celery/chord_join.hpp"

#include <utility>

#include <fmt/format.h>

#include "celery/py_repr.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"

namespace celeriac::celery {

chord_keys chord_keys_for(std::string_view group_id) {
  std::string base = fmt::format("celery-taskset-meta-{}", group_id);
  return chord_keys{base + ".j", base + ".t", base + ".s", base};
}

std::string chord_part::member() const { return chord_join_member(task_id, state, result); }

std::string chord_part::score() const { return group_index ? std::to_string(*group_index) : std::string("+inf"); }

std::string chord_part::member_prefix() const {
  std::string out = "[1, ";
  json::dump_string_to(out, task_id);
  out += ", ";
  return out;
}

namespace {

const json::value* find_key(const json::value& object, std::string_view key) {
  return object.is_object() ? object.find(key) : nullptr;
}

std::optional<std::string> non_empty_string(const json::value* v) {
  if (v && v->is_string() && !v->as_string().empty()) return v->as_string();
  return std::nullopt;
}

bool propagates(std::string_view state) { return state == "FAILURE" || state == "REVOKED"; }

}  // namespace

std::optional<chord_part> chord_part_of(const task_message& m, std::string state, json::value result) {
  if (m.embed.chord.is_null() || !m.headers.group || m.headers.group->empty() || m.headers.id.empty())
    return std::nullopt;
  return chord_part{*m.headers.group, m.headers.id, m.headers.group_index, m.embed.chord,
                    std::move(state),  std::move(result)};
}

std::vector<chain_step_failure> chain_failures(const task_message& failed, const json::value& exception) {
  std::vector<chain_step_failure> out;
  if (!failed.embed.chain.is_array()) return out;
  for (const auto& step : failed.embed.chain.as_array()) {
    const json::value* options = find_key(step, "options");
    if (!options) continue;
    auto task_id = non_empty_string(options->find("task_id"));
    if (!task_id) continue;
    chain_step_failure f;
    f.task_id = *task_id;
    f.context.group_id = non_empty_string(options->find("group_id"));
    f.context.parent_id = non_empty_string(options->find("parent_id"));
    const json::value* body = options->find("chord");
    if (body && !body->is_null() && f.context.group_id) {
      const json::value* index = options->find("group_index");
      f.part = chord_part{*f.context.group_id,
                          *task_id,
                          index && index->is_integer() ? std::optional<std::int64_t>(index->as_integer())
                                                       : std::nullopt,
                          *body,
                          "FAILURE",
                          exception};
    }
    out.push_back(std::move(f));
  }
  return out;
}

boost::system::result<chord_member, chord_read_error> decode_chord_member(std::string_view text) {
  auto parsed = json::parse(text);
  if (!parsed) return chord_read_error{fmt::format("chord member {} is not JSON ({})", text, parsed.error().message)};
  const json::value& v = *parsed;
  if (!v.is_array() || v.as_array().size() != 4 || !v.as_array()[1].is_string() || !v.as_array()[2].is_string())
    return chord_read_error{fmt::format("chord member {} is not [1, task_id, state, result]", text)};
  const auto& a = v.as_array();
  return chord_member{a[1].as_string(), a[2].as_string(), a[3]};
}

chord_outcome chord_outcome_of(const std::vector<std::string>& members) {
  json::array results;
  results.reserve(members.size());
  for (const auto& text : members) {
    auto m = decode_chord_member(text);
    if (!m) return chord_failed{fmt::format("Join error: ValueError({})", py_repr(json::value(m.error().message)))};
    if (propagates(m->state))
      return chord_failed{fmt::format("Dependency {} raised {}", m->task_id, exception_repr(m->result))};
    results.push_back(std::move(m->result));
  }
  return results;
}

namespace {

// GroupResult.as_tuple(): [[id, parent], null] for a task, [[id, parent],
// [children...]] for a group.
struct tuple_node {
  const json::value* id = nullptr;
  const json::value* children = nullptr;  // null for a task
};

std::optional<tuple_node> read_tuple(const json::value& v) {
  if (!v.is_array() || v.as_array().size() != 2) return std::nullopt;
  const auto& head = v.as_array()[0];
  if (!head.is_array() || head.as_array().empty() || !head.as_array()[0].is_string()) return std::nullopt;
  const auto& children = v.as_array()[1];
  if (!children.is_null() && !children.is_array()) return std::nullopt;
  return tuple_node{&head.as_array()[0], children.is_null() ? nullptr : &children};
}

const json::value* saved_top(const json::value& saved) {
  const json::value* result = find_key(saved, "result");
  auto top = result ? read_tuple(*result) : std::nullopt;
  return top ? top->children : nullptr;
}

bool collect_ids(const json::value& children, std::vector<std::string>& out) {
  for (const auto& child : children.as_array()) {
    auto node = read_tuple(child);
    if (!node) return false;
    if (node->children) {
      if (!collect_ids(*node->children, out)) return false;
    } else {
      out.push_back(node->id->as_string());
    }
  }
  return true;
}

struct join_error {
  std::string message;
};

json::value joined(const json::value& children, const std::vector<std::optional<std::string>>& metas,
                   std::size_t& next) {
  json::array out;
  for (const auto& child : children.as_array()) {
    auto node = read_tuple(child);
    if (node->children) {
      out.push_back(joined(*node->children, metas, next));
      continue;
    }
    const auto& text = metas.at(next++);
    auto meta = text ? decode_result_meta(*text) : boost::system::result<result_meta, meta_error>(meta_error{});
    if (!meta || !meta->state() || !is_ready(*meta->state()))
      throw join_error{"Join error: TimeoutError('The operation timed out.')"};
    if (meta->status != "SUCCESS") throw join_error{fmt::format("Join error: {}", exception_repr(meta->result))};
    out.push_back(std::move(meta->result));
  }
  return out;
}

}  // namespace

boost::system::result<std::vector<std::string>, chord_read_error> saved_group_task_ids(std::string_view saved) {
  auto parsed = json::parse(saved);
  if (!parsed) return chord_read_error{fmt::format("the saved GroupResult is not JSON ({})", parsed.error().message)};
  const json::value* top = saved_top(*parsed);
  if (!top) return chord_read_error{"the saved GroupResult is not {\"result\": [[id, parent], [...]]}"};
  std::vector<std::string> ids;
  if (!collect_ids(*top, ids)) return chord_read_error{"the saved GroupResult has a malformed member"};
  return ids;
}

chord_outcome saved_group_outcome(std::string_view saved, const std::vector<std::optional<std::string>>& metas) {
  auto ids = saved_group_task_ids(saved);
  if (!ids) return chord_failed{fmt::format("Join error: ValueError({})", py_repr(json::value(ids.error().message)))};
  if (ids->size() != metas.size())
    return chord_failed{"Join error: ValueError('the results read do not match the saved GroupResult')"};
  const json::value parsed = *json::parse(saved);
  std::size_t next = 0;
  try {
    return joined(*saved_top(parsed), metas, next).as_array();
  } catch (const join_error& e) {
    return chord_failed{e.message};
  }
}

std::string exception_repr(const json::value& exception) {
  const json::value* type = find_key(exception, "exc_type");
  if (!type || !type->is_string()) return py_repr(exception);
  const json::value* module = find_key(exception, "exc_module");
  const json::value* message = find_key(exception, "exc_message");
  json::array args;
  if (message && message->is_array())
    args = message->as_array();
  else if (message)
    args.push_back(*message);
  if (type->as_string() == "NotRegistered" && module && *module == json::value("celery.exceptions")) {
    // Its __repr__ is UNREGISTERED_FMT.format(self); str() of a KeyError
    // is the repr of its one argument.
    std::string str = args.size() == 1 ? py_repr(args[0]) : args.empty() ? "" : py_repr(json::value(args));
    return fmt::format("Task of kind {} never registered, please make sure it's imported.", str);
  }
  std::string out = type->as_string() + "(";
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i) out += ", ";
    out += py_repr(args[i]);
  }
  return out + ")";
}

std::string chord_error_traceback(std::string_view message) {
  return fmt::format(
      "Traceback (most recent call last):\n  File \"celeriac\", in on_chord_part_return\n"
      "celery.exceptions.ChordError: {}\n",
      message);
}

namespace {

// chord_error_from_stack: the body's errbacks (as a group, args (id,)) and
// a ChordError FAILURE for each of its results.
chord_completion failed_chord(const json::value& body, std::string message, const publish_context& ctx) {
  chord_completion c;
  const auto ids = result_ids_of(body);
  const std::string traceback = chord_error_traceback(message);
  for (const auto& id : ids)
    c.failures.push_back(failure_meta(id, "ChordError", message, "celery.exceptions", traceback));
  const json::value* options = find_key(body, "options");
  const json::value* errbacks = options ? options->find("link_error") : nullptr;
  if (errbacks && !errbacks->is_null() && !ids.empty()) {
    json::array list = errbacks->is_array() ? errbacks->as_array() : json::array{*errbacks};
    json::value group = json::object{{"task", "celery.group"},
                                     {"args", json::array{}},
                                     {"kwargs", json::object{{"tasks", std::move(list)}}},
                                     {"options", json::object{}},
                                     {"subtask_type", "group"},
                                     {"immutable", false}};
    const std::string& id = ids.front();
    auto sent = apply_canvas(group, json::array{id}, json::object{{"parent_id", id}, {"root_id", id}},
                             current_task{id, id}, ctx);
    if (sent) c.publication = std::move(*sent);
  }
  c.error = std::move(message);
  return c;
}

}  // namespace

chord_completion complete_chord(const json::value& body, chord_outcome outcome, const current_task& completing,
                                const publish_context& ctx) {
  if (auto* failed = std::get_if<chord_failed>(&outcome)) return failed_chord(body, std::move(failed->message), ctx);
  auto results = std::get<json::array>(std::move(outcome));
  auto sent = apply_canvas(body, json::array{json::value(std::move(results))}, {}, completing, ctx);
  if (!sent)
    return failed_chord(
        body, fmt::format("Callback error: RuntimeError({})", py_repr(json::value(sent.error().message))), ctx);
  chord_completion c;
  c.publication = std::move(*sent);
  return c;
}

}  // namespace celeriac::celery
