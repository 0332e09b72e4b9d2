#include "broker/delayed.hpp"

#include <fmt/format.h>

#include "celery/kombu_redis.hpp"

namespace celeriac::broker {

std::string delayed_member(std::int64_t priority, std::string_view envelope) {
  // queue_for_priority("", p) is "" for step 0 and "\x06\x16<step>" above.
  const std::string suffix = celery::queue_for_priority("", priority);
  const char step = suffix.empty() ? '0' : suffix.back();
  return fmt::format("{}\n{}", step, envelope);
}

}  // namespace celeriac::broker
