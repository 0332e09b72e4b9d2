#include "tasks/llm/backoff.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <vector>

namespace celeriac::tasks::llm {
namespace {

using std::chrono::milliseconds;

constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> days = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};

// A server that asks for more than this is treated as asking for this
// (the caller decides whether to wait that long).
constexpr double max_retry_after_seconds = 365.0 * 86400;

template <std::size_t N>
int index_of(const std::array<std::string_view, N>& list, std::string_view w) {
  auto it = std::find(list.begin(), list.end(), w);
  return it == list.end() ? -1 : static_cast<int>(it - list.begin());
}

bool to_int(std::string_view s, int& out) {
  if (s.empty() || s.size() > 4) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out >= 0;
}

// Splits on spaces, commas and colons; RFC 850's day-month-year keeps its
// dashes and is split below.
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

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int year, int month) {
  constexpr std::array<int, 12> n = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 1 && leap(year) ? 29 : n[static_cast<std::size_t>(month)];
}

struct date_fields {
  int year = 0, month = -1, day = 0, hour = 0, minute = 0, second = 0;
};

std::optional<std::time_t> to_time(const date_fields& f) {
  if (f.year < 1900 || f.year > 9999 || f.month < 0 || f.day < 1 || f.day > days_in_month(f.year, f.month) ||
      f.hour > 23 || f.minute > 59 || f.second > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = f.year - 1900;
  tm.tm_mon = f.month;
  tm.tm_mday = f.day;
  tm.tm_hour = f.hour;
  tm.tm_min = f.minute;
  tm.tm_sec = f.second;
  return ::timegm(&tm);
}

bool read_clock(std::string_view h, std::string_view m, std::string_view s, date_fields& f) {
  return h.size() == 2 && m.size() == 2 && s.size() == 2 && to_int(h, f.hour) && to_int(m, f.minute) &&
         to_int(s, f.second);
}

// RFC 7231 7.1.1.1: a two-digit year more than 50 years in the future
// means the most recent past year with those digits.
int full_year(int two_digits, int this_year) {
  int year = this_year - this_year % 100 + two_digits;
  if (year > this_year + 50) year -= 100;
  return year;
}

// The three HTTP-date forms, tokenized by tokens().
std::optional<std::time_t> parse_http_date(std::string_view v, int this_year) {
  const auto t = tokens(v);
  date_fields f;
  // IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT"
  if (t.size() == 8 && index_of(days, t[0]) >= 0 && t[7] == "GMT" && t[3].size() == 4 && to_int(t[1], f.day) &&
      to_int(t[3], f.year) && read_clock(t[4], t[5], t[6], f)) {
    f.month = index_of(months, t[2]);
    return to_time(f);
  }
  // RFC 850: "Wednesday, 21-Oct-15 07:28:00 GMT"
  if (t.size() == 6 && index_of(long_days, t[0]) >= 0 && t[5] == "GMT" && read_clock(t[2], t[3], t[4], f)) {
    const std::string_view d = t[1];
    const auto a = d.find('-'), b = d.rfind('-');
    int yy = 0;
    if (a == std::string_view::npos || a == b || b + 3 != d.size() || !to_int(d.substr(0, a), f.day) ||
        !to_int(d.substr(b + 1), yy))
      return std::nullopt;
    f.year = full_year(yy, this_year);
    f.month = index_of(months, d.substr(a + 1, b - a - 1));
    return to_time(f);
  }
  // asctime: "Wed Oct 21 07:28:00 2015" (single-digit days padded with a space)
  if (t.size() == 7 && index_of(days, t[0]) >= 0 && t[6].size() == 4 && to_int(t[2], f.day) &&
      read_clock(t[3], t[4], t[5], f) && to_int(t[6], f.year)) {
    f.month = index_of(months, t[1]);
    return to_time(f);
  }
  return std::nullopt;
}

// Delta-seconds: digits, tolerating one decimal point ("1.5").
std::optional<double> parse_seconds(std::string_view v) {
  if (v.empty() || std::count(v.begin(), v.end(), '.') > 1 || v.front() == '.' || v.back() == '.' ||
      !std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
    return std::nullopt;
  double secs = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec == std::errc::result_out_of_range) return max_retry_after_seconds;
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return std::min(secs, max_retry_after_seconds);
}

int year_of(std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  return tm.tm_year + 1900;
}

}  // namespace

milliseconds backoff_delay(int attempt, milliseconds base, milliseconds cap, std::uint64_t random_bits) {
  const int exponent = std::clamp(attempt - 1, 0, 62);
  const long double ceiling = std::min<long double>(static_cast<long double>(cap.count()),
                                                    static_cast<long double>(base.count()) * std::ldexp(1.0L, exponent));
  if (ceiling <= 0) return milliseconds(0);
  // Inclusive of the ceiling: uniform over ceiling + 1 whole milliseconds.
  const auto span = static_cast<std::uint64_t>(ceiling) + 1;
  return milliseconds(static_cast<std::int64_t>(random_bits % span));
}

std::optional<milliseconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    auto secs = parse_seconds(value);
    if (!secs) return std::nullopt;
    return milliseconds(std::llround(*secs * 1000));
  }
  auto when = parse_http_date(value, year_of(now));
  if (!when) return std::nullopt;
  const auto wait = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::from_time_t(*when) - now);
  return std::max(milliseconds(0), wait);
}

bool retryable_status(unsigned s) noexcept { return s == 408 || s == 409 || s == 429 || (s >= 500 && s <= 599); }

}  // namespace celeriac::tasks::llm
