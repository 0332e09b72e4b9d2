#include "cron/schedule.hpp"

#include <fmt/format.h>

namespace celeriac::cron {

std::chrono::sys_seconds schedule::next_after(std::chrono::sys_seconds t, const date::time_zone* zone) const {
  if (const auto* c = cron()) return c->next_after(t, zone);
  return std::get<interval_schedule>(v_).next_after(t);
}

std::string schedule::describe() const {
  if (const auto* c = cron()) return fmt::format("cron \"{}\"", c->text());
  return fmt::format("every \"{}\"", std::get<interval_schedule>(v_).text());
}

}  // namespace celeriac::cron
