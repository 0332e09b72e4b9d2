#include "scheduler/beat_message.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "celery/kombu_redis.hpp"
#include "celery/message_builder.hpp"
#include "json/parse.hpp"
#include "scheduler/beat_keys.hpp"

namespace celeriac::scheduler {

namespace {

json::value parse_field(const schedule_entry& entry, std::string_view field, const std::string& text) {
  auto v = json::parse(text);
  if (!v) {
    throw std::invalid_argument(
        fmt::format("entry \"{}\": {} {} is not valid JSON: {}", entry.name, field, text, v.error().message));
  }
  return std::move(*v);
}

}  // namespace

celery::task_message make_beat_message(const schedule_entry& entry, std::string_view beat_name,
                                       std::chrono::sys_seconds tick, util::wall_time now) {
  json::value args = parse_field(entry, "args", entry.args_json);
  json::value kwargs = parse_field(entry, "kwargs", entry.kwargs_json);
  if (!args.is_array() || !kwargs.is_object()) {
    throw std::invalid_argument(fmt::format("entry \"{}\": args must be a JSON array and kwargs an object", entry.name));
  }
  celery::message_options o;
  o.task_id = tick_task_id(beat_name, entry.name, tick);
  o.queue = entry.queue;
  o.priority = entry.priority.value_or(0);
  if (entry.expires) {
    o.expires_at = util::wall_time(tick) + std::chrono::microseconds(std::llround(*entry.expires * 1e6));
  }
  o.args_style = celery::sequence_style::list;
  o.now = now;
  return celery::make_task_message(entry.task, std::move(args.as_array()), std::move(kwargs.as_object()),
                                   std::move(o));
}

std::string beat_message_list(const schedule_entry& entry) {
  return celery::queue_for_priority(entry.queue, entry.priority.value_or(0));
}

}  // namespace celeriac::scheduler
