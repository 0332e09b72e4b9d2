#include "celery/result_meta.hpp"

#include <ostream>
#include <utility>

#include <fmt/format.h>

#include "celery/json_writer.hpp"
#include "celery/task_message.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"

namespace celeriac::celery {

namespace {

constexpr std::pair<task_state, std::string_view> state_names[] = {
    {task_state::pending, "PENDING"}, {task_state::received, "RECEIVED"}, {task_state::started, "STARTED"},
    {task_state::success, "SUCCESS"}, {task_state::failure, "FAILURE"},   {task_state::retry, "RETRY"},
    {task_state::revoked, "REVOKED"},
};

constexpr std::string_view known_meta_fields[] = {"status",    "result",    "traceback", "children",
                                                  "date_done", "group_id", "parent_id", "task_id"};

bool is_known_field(std::string_view key) {
  for (auto k : known_meta_fields)
    if (k == key) return true;
  return false;
}

std::optional<std::string> non_empty(const std::optional<std::string>& s) {
  return s && !s->empty() ? s : std::nullopt;
}

// Celery's _get_result_meta: date_done only for ready states.
result_meta base_meta(task_state state, std::string task_id, meta_context&& ctx) {
  result_meta m;
  m.status = std::string(state_name(state));
  m.children = json::value(std::move(ctx.children));
  if (is_ready(state)) m.date_done = util::iso8601_naive(ctx.date_done.value_or(util::wall_now()));
  m.group_id = non_empty(ctx.group_id);
  m.parent_id = non_empty(ctx.parent_id);
  m.task_id = std::move(task_id);
  return m;
}

json::value exception_json(std::string_view exc_type, json::array exc_args, std::string_view exc_module) {
  return json::object{{"exc_type", std::string(exc_type)},
                      {"exc_message", std::move(exc_args)},
                      {"exc_module", std::string(exc_module)}};
}

}  // namespace

std::string_view state_name(task_state s) noexcept {
  for (const auto& [state, name] : state_names)
    if (state == s) return name;
  return "PENDING";
}

std::optional<task_state> parse_state(std::string_view name) noexcept {
  for (const auto& [state, n] : state_names)
    if (n == name) return state;
  return std::nullopt;
}

bool is_ready(task_state s) noexcept {
  return s == task_state::success || s == task_state::failure || s == task_state::revoked;
}

std::ostream& operator<<(std::ostream& os, const meta_error& e) { return os << e.message; }

std::ostream& operator<<(std::ostream& os, const result_meta& m) { return os << encode_result_meta(m); }

std::string encode_result_meta(const result_meta& m) {
  std::string out;
  detail::object_writer w(out);
  w.member("status", m.status);
  w.member("result", m.result);
  w.member("traceback", m.traceback);
  w.member("children", m.children);
  w.member("date_done", m.date_done);
  if (m.group_id) w.member("group_id", *m.group_id);
  if (m.parent_id) w.member("parent_id", *m.parent_id);
  w.members(m.extra);
  w.member("task_id", m.task_id);
  w.finish();
  return out;
}

boost::system::result<result_meta, meta_error> decode_result_meta(std::string_view text) {
  auto parsed = json::parse(text);
  if (!parsed) return meta_error{fmt::format("result meta is not JSON ({})", parsed.error().message)};
  const json::value& v = *parsed;
  if (!v.is_object()) return meta_error{"result meta is not a JSON object"};

  auto bad = [&](std::string_view field, std::string_view expected) {
    const json::value* f = v.find(field);
    return meta_error{fmt::format("result meta has '{}' = {}, expected {}", field,
                                  f ? json::dump(*f) : "<missing>", expected)};
  };
  auto opt_string = [&](std::string_view field, std::optional<std::string>& out) {
    const json::value* f = v.find(field);
    if (!f || f->is_null()) return true;
    if (!f->is_string()) return false;
    out = f->as_string();
    return true;
  };

  result_meta m;
  const json::value* status = v.find("status");
  if (!status || !status->is_string()) return bad("status", "a state name");
  m.status = status->as_string();
  const json::value* task_id = v.find("task_id");
  if (!task_id || !task_id->is_string()) return bad("task_id", "a string");
  m.task_id = task_id->as_string();
  if (const json::value* r = v.find("result")) m.result = *r;
  if (const json::value* t = v.find("traceback")) {
    if (!t->is_null() && !t->is_string()) return bad("traceback", "a string or null");
    m.traceback = *t;
  }
  if (const json::value* c = v.find("children")) {
    if (!c->is_null() && !c->is_array()) return bad("children", "a list");
    m.children = *c;
  }
  if (!opt_string("date_done", m.date_done)) return bad("date_done", "an ISO-8601 string or null");
  if (!opt_string("group_id", m.group_id)) return bad("group_id", "a string");
  if (!opt_string("parent_id", m.parent_id)) return bad("parent_id", "a string");
  for (const auto& [k, f] : v.as_object())
    if (!is_known_field(k)) m.extra.emplace_back(k, f);
  return m;
}

meta_context meta_context_for(const task_message& m) {
  meta_context ctx;
  ctx.group_id = non_empty(m.headers.group);
  ctx.parent_id = non_empty(m.headers.parent_id);
  return ctx;
}

json::value child_result(std::string_view task_id) {
  return json::array{json::array{std::string(task_id), nullptr}, nullptr};
}

result_meta success_meta(std::string task_id, json::value result, meta_context ctx) {
  result_meta m = base_meta(task_state::success, std::move(task_id), std::move(ctx));
  m.result = std::move(result);
  return m;
}

result_meta failure_meta(std::string task_id, std::string_view exc_type, std::string_view exc_message,
                         std::string_view exc_module, std::optional<std::string> traceback, meta_context ctx) {
  result_meta m = base_meta(task_state::failure, std::move(task_id), std::move(ctx));
  m.result = exception_json(exc_type, json::array{std::string(exc_message)}, exc_module);
  if (traceback) m.traceback = std::move(*traceback);
  return m;
}

result_meta revoked_meta(std::string task_id, std::string_view reason, meta_context ctx) {
  result_meta m = base_meta(task_state::revoked, std::move(task_id), std::move(ctx));
  m.result = exception_json("TaskRevokedError", json::array{std::string(reason)}, "celery.exceptions");
  return m;
}

result_meta retry_meta(std::string task_id, json::value exc, std::optional<std::string> traceback,
                       meta_context ctx) {
  result_meta m = base_meta(task_state::retry, std::move(task_id), std::move(ctx));
  m.result = std::move(exc);
  if (traceback) m.traceback = std::move(*traceback);
  return m;
}

std::string chord_join_member(std::string_view task_id, std::string_view status, const json::value& result) {
  std::string out = "[1, ";
  json::dump_string_to(out, task_id);
  out += ", ";
  json::dump_string_to(out, status);
  out += ", ";
  json::dump_to(out, result);
  out += "]";
  return out;
}

}  // namespace celeriac::celery
