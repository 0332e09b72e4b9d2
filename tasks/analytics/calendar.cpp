#include "tasks/analytics/calendar.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace celeriac::tasks::analytics {
namespace {

using namespace std::chrono;

constexpr int min_year = 1, max_year = 9999;

// The digits text[from, from + n) as a number, or -1 when any is not a digit.
int digits(std::string_view text, std::size_t from, std::size_t n) {
  int v = 0;
  for (std::size_t i = from; i < from + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<utc_day> utc_day::parse(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const int y = digits(text, 0, 4), m = digits(text, 5, 2), d = digits(text, 8, 2);
  if (y < min_year || m < 0 || d < 0) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return utc_day(sys_days(ymd));
}

std::string utc_day::iso() const {
  const year_month_day ymd{day_};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

std::string utc_day::start_literal() const { return iso() + " 00:00:00+00"; }

// 9999-12-31's next day is 10000-01-01: a valid instant for PostgreSQL, and
// only ever used as an exclusive upper bound.
utc_day utc_day::next() const { return utc_day(day_ + days{1}); }

std::optional<utc_month> utc_month::parse(std::string_view text) {
  if (text.size() != 7 || text[4] != '-') return std::nullopt;
  const int y = digits(text, 0, 4), m = digits(text, 5, 2);
  if (y < min_year || m < 1 || m > 12) return std::nullopt;
  return utc_month(y * 12 + (m - 1));
}

utc_month utc_month::plus(int months) const {
  const std::int64_t index = std::int64_t{index_} + months;
  if (index < std::int64_t{min_year} * 12 || index > std::int64_t{max_year} * 12 + 11)
    throw std::out_of_range(fmt::format("month {} moved by {} months leaves the years {:04}-{}", suffix(), months,
                                        min_year, max_year));
  return utc_month(static_cast<int>(index));
}

std::string utc_month::suffix() const { return fmt::format("{:04}_{:02}", index_ / 12, index_ % 12 + 1); }

std::string utc_month::start_literal() const {
  return fmt::format("{:04}-{:02}-01 00:00:00+00", index_ / 12, index_ % 12 + 1);
}

std::int64_t utc_month::start_epoch() const {
  const sys_days first{year{index_ / 12} / month{static_cast<unsigned>(index_ % 12 + 1)} / 1};
  return duration_cast<seconds>(first.time_since_epoch()).count();
}

}  // namespace celeriac::tasks::analytics
