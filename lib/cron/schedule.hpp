#pragma once
// When an entry fires: a cron expression or a fixed interval, behind one
// next_after so the beat loop and dry-run need not care which.

#include <chrono>
#include <string>
#include <variant>

#include <date/tz.h>

#include "cron/cron_expression.hpp"
#include "cron/interval_schedule.hpp"

namespace celeriac::cron {

class schedule {
 public:
  // Implicit on purpose: either kind is a schedule.
  schedule(cron_expression c) : v_(std::move(c)) {}
  schedule(interval_schedule i) : v_(std::move(i)) {}

  // The first fire time strictly after t. `zone` (nullptr = UTC) applies to
  // cron expressions only; intervals tick on epoch-aligned real time.
  // sys_seconds::max() means "never" (see cron_expression::next_after).
  std::chrono::sys_seconds next_after(std::chrono::sys_seconds t, const date::time_zone* zone) const;

  // The alternatives; nullptr when the schedule is the other kind.
  const cron_expression* cron() const noexcept { return std::get_if<cron_expression>(&v_); }
  const interval_schedule* interval() const noexcept { return std::get_if<interval_schedule>(&v_); }

  // As it would be written in a schedule file: `cron "*/5 * * * *"` or
  // `every "30s"`.
  std::string describe() const;

  // Same kind and same fire times (see the alternatives' operator==).
  friend bool operator==(const schedule&, const schedule&) = default;

 private:
  std::variant<cron_expression, interval_schedule> v_;
};

}  // namespace celeriac::cron
