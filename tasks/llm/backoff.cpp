#include "tasks/llm/backoff.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>
#include <vector>

namespace celeriac::tasks::llm {
namespace {

constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int month_index(std::string_view m) {
  for (std::size_t i = 0; i < months.size(); ++i)
    if (months[i] == m) return static_cast<int>(i);
  return -1;
}

bool to_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits on spaces, commas and colons; keeps '-' inside words (RFC 850 dates
// split their day-month-year on '-' below).
std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == ':')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != ',' && s[j] != ':') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::time_t> to_time(int year, int month, int day, int h, int m, int sec) {
  if (month < 0 || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  return ::timegm(&tm);
}

std::optional<std::time_t> parse_http_date(std::string_view v) {
  auto t = tokens(v);
  int day, year, h, m, s;
  // IMF-fixdate: Wed 21 Oct 2015 07 28 00 GMT
  if (t.size() == 8 && t[7] == "GMT" && to_int(t[1], day) && to_int(t[3], year) && to_int(t[4], h) &&
      to_int(t[5], m) && to_int(t[6], s))
    return to_time(year, month_index(t[2]), day, h, m, s);
  // RFC 850: Wednesday 21-Oct-15 07 28 00 GMT
  if (t.size() == 6 && t[5] == "GMT" && to_int(t[2], h) && to_int(t[3], m) && to_int(t[4], s)) {
    std::string_view d = t[1];
    auto a = d.find('-'), b = d.rfind('-');
    if (a == std::string_view::npos || a == b) return std::nullopt;
    if (!to_int(d.substr(0, a), day) || !to_int(d.substr(b + 1), year)) return std::nullopt;
    year += year < 70 ? 2000 : year < 100 ? 1900 : 0;
    return to_time(year, month_index(d.substr(a + 1, b - a - 1)), day, h, m, s);
  }
  // asctime: Wed Oct 21 07 28 00 2015
  if (t.size() == 7 && to_int(t[2], day) && to_int(t[3], h) && to_int(t[4], m) && to_int(t[5], s) &&
      to_int(t[6], year))
    return to_time(year, month_index(t[1]), day, h, m, s);
  return std::nullopt;
}

}  // namespace

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                        std::uint64_t random_bits) {
  const int exponent = std::clamp(attempt - 1, 0, 30);
  const long double ceiling =
      std::min<long double>(static_cast<long double>(cap.count()), static_cast<long double>(base.count()) * std::ldexp(1.0L, exponent));
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  const auto span = static_cast<std::uint64_t>(ceiling) + 1;
  return std::chrono::milliseconds(static_cast<std::int64_t>(random_bits % span));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    double secs = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (ec != std::errc() || p != value.data() + value.size() || !(secs >= 0) || secs > 86400.0 * 365)
      return std::nullopt;
    return std::chrono::milliseconds(std::llround(secs * 1000));
  }
  auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  auto diff = std::chrono::system_clock::from_time_t(*when) - now;
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(diff));
}

bool retryable_status(unsigned s) noexcept { return s == 408 || s == 409 || s == 429 || (s >= 500 && s <= 599); }

}  // namespace celeriac::tasks::llm
