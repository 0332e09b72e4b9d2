#include "cron/interval_schedule.hpp"

#include <array>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace celeriac::cron {

namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

struct unit {
  char letter;
  std::int64_t seconds;
};

constexpr std::array<unit, 4> units = {{{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};

// Each number is capped so the sum cannot overflow before the range check.
constexpr std::size_t max_number_digits = 6;

constexpr std::string_view expected_forms = "expected <number><unit> parts with units d, h, m, s in that order, "
                                            "e.g. \"30s\", \"5m\", \"1h30m\"";

std::string canonical_text(seconds period) {
  std::string out;
  auto rest = period.count();
  for (const auto& u : units) {
    if (rest >= u.seconds) {
      out += fmt::format("{}{}", rest / u.seconds, u.letter);
      rest %= u.seconds;
    }
  }
  return out;
}

// Floor division, so ticks before the epoch are aligned too.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

result<interval_schedule> interval_schedule::parse(std::string_view text) {
  if (text.empty()) return error{fmt::format("every \"\": empty period; {}", expected_forms)};
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // units before this index were used or skipped
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) {
      return error{fmt::format("every \"{}\": expected a number at \"{}\"; {}", text, text.substr(start),
                               expected_forms)};
    }
    if (i - start > max_number_digits)
      return error{fmt::format("every \"{}\": {} is too large", text, text.substr(start, i - start))};
    if (i == text.size())
      return error{fmt::format("every \"{}\": {} has no unit; {}", text, text.substr(start), expected_forms)};
    std::int64_t n = 0;
    for (std::size_t k = start; k < i; ++k) n = n * 10 + (text[k] - '0');

    const char letter = text[i];
    std::size_t u = next_unit;
    while (u < units.size() && units[u].letter != letter) ++u;
    if (u == units.size()) {
      bool known = false;
      for (const auto& x : units) known = known || x.letter == letter;
      if (known) {
        return error{fmt::format("every \"{}\": unit '{}' is repeated or out of order; {}", text, letter,
                                 expected_forms)};
      }
      return error{fmt::format("every \"{}\": unknown unit \"{}\"; {}", text, text.substr(i, 1), expected_forms)};
    }
    total += n * units[u].seconds;
    next_unit = u + 1;
    ++i;
  }
  auto r = from_period(seconds{total});
  if (!r) return error{fmt::format("every \"{}\": {}", text, r.error().message)};
  return interval_schedule{r->period_, std::string(text)};
}

result<interval_schedule> interval_schedule::from_period(seconds period) {
  if (period < seconds{1}) return error{"the period must be at least 1 second"};
  if (period > max_period) {
    return error{fmt::format("the period is longer than {} days; use a cron expression for long cadences",
                             max_period.count() / 86400)};
  }
  return interval_schedule{period, canonical_text(period)};
}

sys_seconds interval_schedule::next_after(sys_seconds t) const noexcept {
  const auto p = period_.count();
  const auto q = floor_div(t.time_since_epoch().count(), p);
  if (q >= std::numeric_limits<std::int64_t>::max() / p - 1) return sys_seconds::max();  // no tick is representable
  return sys_seconds{seconds{(floor_div(t.time_since_epoch().count(), p) + 1) * p}};
}

sys_seconds interval_schedule::last_at_or_before(sys_seconds t) const noexcept {
  const auto p = period_.count();
  return sys_seconds{seconds{floor_div(t.time_since_epoch().count(), p) * p}};
}

}  // namespace celeriac::cron
