#include "celery/kombu_redis.hpp"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include "json/dump.hpp"
#include "json/parse.hpp"

namespace celeriac::celery {

std::ostream& operator<<(std::ostream& os, const kombu_error& e) { return os << e.message; }

namespace {

void append_step(std::string& out, std::string_view queue, std::int64_t step) {
  out.append(queue);
  if (step != 0) {
    out.append(kombu_sep);
    out += std::to_string(step);
  }
}

}  // namespace

std::string queue_for_priority(std::string_view queue, std::int64_t priority) {
  priority = std::clamp<std::int64_t>(priority, 0, 9);
  std::int64_t step = 0;
  for (auto s : priority_steps)
    if (s <= priority) step = s;
  std::string out;
  append_step(out, queue, step);
  return out;
}

std::vector<std::string> priority_lists(std::string_view queue) {
  std::vector<std::string> out;
  out.reserve(priority_steps.size());
  for (auto step : priority_steps) append_step(out.emplace_back(), queue, step);
  return out;
}

std::vector<std::string> priority_lists(std::span<const std::string> queues) {
  std::vector<std::string> out;
  out.reserve(priority_steps.size() * queues.size());
  for (auto step : priority_steps)
    for (const auto& q : queues) append_step(out.emplace_back(), q, step);
  return out;
}

std::string_view queue_of_list(std::string_view list_key) {
  auto pos = list_key.rfind(kombu_sep);
  return pos == std::string_view::npos ? list_key : list_key.substr(0, pos);
}

std::string binding_member(std::string_view queue) {
  std::string out;
  out.reserve(queue.size() * 2 + kombu_sep.size() * 2);
  out.append(queue).append(kombu_sep).append(kombu_sep).append(queue);
  return out;
}

std::string unacked_entry(std::string_view payload, std::string_view exchange, std::string_view routing_key) {
  std::string out;
  out.reserve(payload.size() + exchange.size() + routing_key.size() + 16);
  out += "[";
  out.append(payload);
  out += ", ";
  json::dump_string_to(out, exchange);
  out += ", ";
  json::dump_string_to(out, routing_key);
  out += "]";
  return out;
}

std::ostream& operator<<(std::ostream& os, const unacked_parts& p) {
  return os << "[" << p.payload << ", " << json::dump(json::value(p.exchange)) << ", "
            << json::dump(json::value(p.routing_key)) << "]";
}

boost::system::result<unacked_parts, kombu_error> parse_unacked_entry(std::string_view text) {
  auto parsed = json::parse(text);
  if (!parsed) return kombu_error{fmt::format("unacked entry is not JSON ({})", parsed.error().message)};
  const json::value& v = *parsed;
  if (!v.is_array() || v.as_array().size() != 3 || !v.as_array()[0].is_object() ||
      !v.as_array()[1].is_string() || !v.as_array()[2].is_string())
    return kombu_error{"unacked entry is not [payload, exchange, routing_key]: cannot restore it"};
  const auto& parts = v.as_array();
  return unacked_parts{json::dump(parts[0]), parts[1].as_string(), parts[2].as_string()};
}

boost::system::result<std::string, kombu_error> mark_redelivered(std::string_view payload) {
  auto parsed = json::parse(payload);
  if (!parsed) return kombu_error{fmt::format("cannot mark a non-JSON payload redelivered ({})",
                                              parsed.error().message)};
  json::value& v = *parsed;
  if (!v.is_object()) return kombu_error{"cannot mark a payload that is not a JSON object redelivered"};
  // kombu: headers first, then delivery_info; a KeyError stops it there.
  if (json::value* headers = v.find("headers"); headers && headers->is_object()) {
    headers->set("redelivered", true);
    if (json::value* properties = v.find("properties"); properties && properties->is_object())
      if (json::value* info = properties->find("delivery_info"); info && info->is_object())
        info->set("redelivered", true);
  }
  // Explicit: kombu_error is constructible from a string too (C++20
  // parenthesised aggregate init), so the conversion would be ambiguous.
  return boost::system::result<std::string, kombu_error>(boost::system::in_place_value, json::dump(v));
}

}  // namespace celeriac::celery
