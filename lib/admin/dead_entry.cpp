#include "admin/dead_entry.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "broker/queue_name.hpp"
#include "celery/kombu_redis.hpp"
#include "celery/message_codec.hpp"
#include "json/parse.hpp"

namespace celeriac::admin {
namespace {

// Reasons written outside decode_message's refusals.
constexpr std::array<std::string_view, 5> other_reasons{"unknown_task", "bad_arguments", "worker_lost",
                                                        "no_delivery_tag", "bad_unacked_entry"};

constexpr auto last_decode_reason = static_cast<int>(celery::decode_reason::bad_property);

bool is_decode_reason(std::string_view reason) {
  for (int i = 0; i <= last_decode_reason; ++i)
    if (celery::reason_code(static_cast<celery::decode_reason>(i)) == reason) return true;
  return false;
}

const json::value* path(const json::value& v, std::string_view a, std::string_view b) {
  const json::value* first = v.find(a);
  return first && first->is_object() ? first->find(b) : nullptr;
}

std::optional<std::string> string_at(const json::value* v) {
  if (v && v->is_string()) return v->as_string();
  return std::nullopt;
}

// kombu's _get_message_priority: int(properties["priority"]), or the
// default (0) when that fails. Clamping to 0..9 is queue_for_priority's.
std::int64_t priority_of(const json::value* v) {
  if (!v) return 0;
  if (v->is_integer()) return v->as_integer();
  if (v->is_double() && std::isfinite(v->as_double()) && std::abs(v->as_double()) < 1e15)
    return static_cast<std::int64_t>(v->as_double());
  if (v->is_string()) {
    std::int64_t n = 0;
    const std::string& s = v->as_string();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc{} && end == s.data() + s.size()) return n;
  }
  return 0;
}

// Fills what the raw envelope tells: task name and id (decode_message's
// reading first), delivery tag, routing key and priority.
void read_envelope(dead_entry& e) {
  if (!e.raw) return;
  if (auto m = celery::decode_message(*e.raw)) {
    e.task = m->headers.task;
    e.task_id = m->headers.id;
  }
  auto env = json::parse(*e.raw);
  if (!env || !env->is_object()) return;
  if (!e.task) e.task = string_at(path(*env, "headers", "task"));
  if (!e.task_id) e.task_id = string_at(path(*env, "headers", "id"));
  e.delivery_tag = string_at(path(*env, "properties", "delivery_tag"));
  e.priority = priority_of(path(*env, "properties", "priority"));
  if (const json::value* info = path(*env, "properties", "delivery_info"); info && info->is_object())
    e.routing_key = string_at(info->find("routing_key"));
}

}  // namespace

dead_entry parse_dead_entry(std::string text) {
  dead_entry e;
  auto doc = json::parse(text);
  e.text = std::move(text);
  if (!doc || !doc->is_object()) return e;
  e.well_formed = true;
  e.reason = string_at(doc->find("reason")).value_or("");
  e.message = string_at(doc->find("message")).value_or("");
  e.queue = string_at(doc->find("queue")).value_or("");
  e.time = string_at(doc->find("time")).value_or("");
  e.has_raw_base64 = doc->find("raw_base64") != nullptr;
  if (!e.has_raw_base64) e.raw = string_at(doc->find("raw"));
  read_envelope(e);
  if (!e.task) e.task = string_at(doc->find("task"));
  if (!e.task_id) e.task_id = string_at(doc->find("task_id"));
  return e;
}

std::vector<std::string_view> known_reasons() {
  std::vector<std::string_view> out;
  for (int i = 0; i <= last_decode_reason; ++i) out.push_back(celery::reason_code(static_cast<celery::decode_reason>(i)));
  out.insert(out.end(), other_reasons.begin(), other_reasons.end());
  return out;
}

bool is_known_reason(std::string_view reason) {
  return reason == decode_error_group || is_decode_reason(reason) ||
         std::ranges::find(other_reasons, reason) != other_reasons.end();
}

bool dead_filter::matches(const dead_entry& e) const {
  if (reason) {
    const bool in_group = *reason == decode_error_group && is_decode_reason(e.reason);
    if (!in_group && e.reason != *reason) return false;
  }
  return !task_id || e.task_id == *task_id;
}

boost::system::result<requeue_plan, requeue_refusal> plan_requeue(const dead_entry& e) {
  auto refuse = [](std::string why) { return requeue_refusal{std::move(why)}; };
  if (!e.well_formed) return refuse("not a dead-letter entry (not a JSON object); delete it with `celeriac dead purge`");
  if (e.reason == "no_delivery_tag")
    return refuse("the message has no readable delivery tag, so a worker would dead-letter it again; fix it and "
                  "LPUSH it by hand");
  if (e.has_raw_base64)
    return refuse("the message is not valid UTF-8 (its exact bytes are in raw_base64); replay it by hand");
  if (!e.raw) return refuse("the entry keeps no raw message");
  if (!e.delivery_tag)
    return refuse("the raw message is not a kombu envelope with a properties.delivery_tag; fix it and LPUSH it by "
                  "hand");
  const std::string& queue = !e.queue.empty() ? e.queue : e.routing_key.value_or("");
  std::string why;
  auto name = broker::queue_name::make(queue, &why);
  if (!name) return refuse("no usable queue in the entry or the message's routing key: " + why);
  return requeue_plan{name->str(), celery::queue_for_priority(name->str(), e.priority), *e.raw, *e.delivery_tag};
}

}  // namespace celeriac::admin
