#pragma once
// UTC calendar days and months as the analytics tasks use them: parsed
// strictly, valid by construction, and turned into the timestamptz literals
// of their first instant. Pure: no clock, no I/O (the current day and month
// come from the database server's clock, see daily_rollup.hpp and
// partitions.hpp).

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace celeriac::tasks::analytics {

// A calendar day in UTC, years 0001-9999 (what PostgreSQL's date and
// "YYYY-MM-DD" can both spell).
class utc_day {
public:
  // "YYYY-MM-DD" exactly, a real date ("2026-02-30" is not); nullopt otherwise.
  static std::optional<utc_day> parse(std::string_view text);

  std::string iso() const;            // "2026-03-02"
  std::string start_literal() const;  // "2026-03-02 00:00:00+00": its first instant
  utc_day next() const;

  auto operator<=>(const utc_day&) const = default;

private:
  explicit utc_day(std::chrono::sys_days d) : day_(d) {}
  std::chrono::sys_days day_;
};

// A calendar month in UTC, years 0001-9999.
class utc_month {
public:
  // "YYYY-MM" exactly; nullopt otherwise.
  static std::optional<utc_month> parse(std::string_view text);

  // This month moved by `months` (negative: earlier). Throws
  // std::out_of_range when the result leaves years 0001-9999.
  utc_month plus(int months) const;

  std::string suffix() const;         // "2026_03", as partition names spell it
  std::string start_literal() const;  // "2026-03-01 00:00:00+00"
  std::int64_t start_epoch() const;   // seconds since 1970-01-01 00:00 UTC of its first instant

  auto operator<=>(const utc_month&) const = default;

private:
  explicit utc_month(int index) : index_(index) {}
  int index_;  // year * 12 + (month - 1)
};

}  // namespace celeriac::tasks::analytics
