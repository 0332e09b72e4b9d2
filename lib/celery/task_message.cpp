#include "celery/task_message.hpp"

namespace celeriac::celery {
namespace {

std::optional<double> seconds_of(const json::value& v) {
  if (v.is_number()) return v.as_double();
  return std::nullopt;
}

bool is_true(const json::object& o, std::string_view key) {
  for (const auto& [k, v] : o)
    if (k == key) return v.is_bool() && v.as_bool();
  return false;
}

}  // namespace

std::optional<util::wall_time> task_message::eta_time() const {
  if (!headers.eta) return std::nullopt;
  return util::parse_iso8601(*headers.eta);
}

std::optional<util::wall_time> task_message::expires_time() const {
  if (!headers.expires) return std::nullopt;
  return util::parse_iso8601(*headers.expires);
}

std::optional<double> task_message::time_limit() const { return seconds_of(headers.timelimit[0]); }

std::optional<double> task_message::soft_time_limit() const { return seconds_of(headers.timelimit[1]); }

bool task_message::redelivered() const {
  return is_true(headers.extra, "redelivered") || is_true(properties.delivery_info.extra, "redelivered");
}

const std::string& task_message::root_id_or_id() const {
  return headers.root_id && !headers.root_id->empty() ? *headers.root_id : headers.id;
}

}  // namespace celeriac::celery
