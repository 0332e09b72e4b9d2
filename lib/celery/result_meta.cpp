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

// A stored value quoted in an error message, cut to a readable length.
std::string clipped(const json::value& v) {
  constexpr std::size_t limit = 80;
  std::string text = json::dump(v);
  if (text.size() > limit) text = text.substr(0, limit) + "...";
  return text;
}

std::optional<std::string> string_or(const json::value* v) {
  if (!v || !v->is_string()) return std::nullopt;
  return v->as_string();
}

std::string as_text(const json::value& v) { return v.is_string() ? v.as_string() : json::dump(v); }

std::string with_detail(std::string_view head, std::string_view detail) {
  return detail.empty() ? std::string(head) : fmt::format("{}: {}", head, detail);
}

// What a value that is not Celery's exception dict says: a string's last
// non-blank line (a traceback's "ValueError: boom"), other JSON as text;
// "" for null, {} and [].
std::string gist(const json::value& tb) {
  if (tb.is_null()) return "";
  if (!tb.is_string()) {
    std::string text = json::dump(tb);
    return text == "{}" || text == "[]" ? "" : text;
  }
  std::string_view s = tb.as_string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  auto nl = s.rfind('\n');
  return std::string(nl == std::string_view::npos ? s : s.substr(nl + 1));
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
  if (!v.is_object()) return meta_error{fmt::format("result meta is {}, not a JSON object", clipped(v))};
  // The one field Celery's client cannot do without (meta['status']).
  const json::value* status = v.find("status");
  if (!status || !status->is_string())
    return meta_error{fmt::format("result meta has 'status' = {}, expected a state name such as \"SUCCESS\"",
                                  status ? clipped(*status) : "<missing>")};

  result_meta m;
  m.status = status->as_string();
  m.task_id = string_or(v.find("task_id")).value_or("");
  if (const json::value* r = v.find("result")) m.result = *r;
  if (const json::value* t = v.find("traceback")) m.traceback = *t;
  if (const json::value* c = v.find("children")) m.children = *c;
  m.date_done = string_or(v.find("date_done"));
  m.group_id = string_or(v.find("group_id"));
  m.parent_id = string_or(v.find("parent_id"));
  for (const auto& [k, f] : v.as_object())
    if (!is_known_field(k)) m.extra.emplace_back(k, f);
  return m;
}

std::optional<util::wall_time> result_meta::done_at() const {
  return date_done ? util::parse_iso8601(*date_done) : std::nullopt;
}

std::string failure_summary(const result_meta& m) {
  const json::value& r = m.result;
  const json::value* type = r.find("exc_type");
  if (!type || !type->is_string()) {
    std::string detail = gist(m.traceback);
    return with_detail(m.status, detail.empty() ? gist(r) : detail);
  }
  const json::value* message = r.find("exc_message");
  std::string text;
  if (message && message->is_array()) {
    // An exception without args (SoftTimeLimitExceeded()) has no text.
    if (!message->as_array().empty()) text = as_text(message->as_array().front());
  } else if (message) {
    text = as_text(*message);
  }
  return with_detail(type->as_string(), text);
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
