#include "celery/dead_letter.hpp"

#include <simdjson.h>

#include "celery/json_writer.hpp"
#include "util/base64.hpp"

namespace celeriac::celery {
namespace {

std::string entry(std::string_view reason, std::string_view message, const decode_error* error,
                  std::string_view queue, util::wall_time time, std::string_view raw) {
  std::string out;
  detail::object_writer w(out);
  w.member("reason", reason);
  w.member("message", message);
  if (error && error->task_id) w.member("task_id", *error->task_id);
  if (error && error->task_name) w.member("task", *error->task_name);
  w.member("queue", queue);
  w.member("time", util::iso8601_utc(time));
  w.member("raw", raw);  // invalid UTF-8 becomes U+FFFD here...
  if (!simdjson::validate_utf8(raw.data(), raw.size()))
    w.member("raw_base64", util::base64_encode(raw));  // ...so keep the exact bytes too
  w.finish();
  return out;
}

}  // namespace

std::string dead_letter_entry(std::string_view reason, std::string_view message, std::string_view queue,
                              util::wall_time time, std::string_view raw) {
  return entry(reason, message, nullptr, queue, time, raw);
}

std::string dead_letter_entry(const decode_error& error, std::string_view queue, util::wall_time time,
                              std::string_view raw) {
  return entry(reason_code(error.reason), error.message, &error, queue, time, raw);
}

}  // namespace celeriac::celery
