#include "csv/timestamp.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace celeriac::csv {

namespace {

constexpr std::int64_t micros_per_second = 1'000'000;
constexpr std::int64_t micros_per_day = 86'400 * micros_per_second;
// Days from 1970-01-01 to 2000-01-01.
constexpr std::int64_t postgres_epoch_days = 10'957;

// Days since 1970-01-01 of a proleptic Gregorian date, year >= 1
// (H. Hinnant's days_from_civil, in unsigned arithmetic).
constexpr std::int64_t days_from_civil(unsigned y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const unsigned era = y / 400;
  const unsigned yoe = y - era * 400;
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146'097 + static_cast<std::int64_t>(doe) - 719'468;
}

constexpr bool is_leap(unsigned y) noexcept { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

constexpr unsigned days_in_month(unsigned y, unsigned m) noexcept {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// The value of digit c, or something above 9 when c is not a digit.
inline unsigned digit(char c) noexcept { return static_cast<unsigned>(static_cast<unsigned char>(c)) - '0'; }

// Two digits at p as a number, or a value above 99 if either is not a digit.
inline unsigned two_digits(const char* p) noexcept {
  const unsigned a = digit(p[0]);
  const unsigned b = digit(p[1]);
  return (a > 9 || b > 9) ? 100 : a * 10 + b;
}

constexpr std::int64_t nanos_scale[10] = {1'000'000'000, 100'000'000, 10'000'000, 1'000'000, 100'000,
                                          10'000,        1'000,       100,        10,        1};

}  // namespace

void throw_exception_from_error(timestamp_error e, const boost::source_location&) {
  switch (e) {
    case timestamp_error::syntax: throw std::invalid_argument("not an ISO-8601 timestamp");
    case timestamp_error::no_offset: throw std::invalid_argument("ISO-8601 timestamp without a UTC offset");
    case timestamp_error::out_of_range: throw std::invalid_argument("ISO-8601 timestamp with a part out of range");
  }
  throw std::invalid_argument("bad timestamp");
}

// Straight-line code over fixed positions: this runs once per row of an
// import, so it avoids loops and bounds checks wherever the form allows.
boost::system::result<timestamptz, timestamp_error> parse_timestamptz(std::string_view text) noexcept {
  const char* const p = text.data();
  const std::size_t n = text.size();
  if (n < 16) return timestamp_error::syntax;
  const unsigned y0 = digit(p[0]), y1 = digit(p[1]), y2 = digit(p[2]), y3 = digit(p[3]);
  const unsigned month = two_digits(p + 5);
  const unsigned day = two_digits(p + 8);
  const unsigned hour = two_digits(p + 11);
  const unsigned minute = two_digits(p + 14);
  const char t = p[10];
  if ((y0 > 9) | (y1 > 9) | (y2 > 9) | (y3 > 9) | (month > 99) | (day > 99) | (hour > 99) | (minute > 99) ||
      p[4] != '-' || p[7] != '-' || p[13] != ':' || (t != 'T' && t != ' ' && t != 't')) {
    return timestamp_error::syntax;
  }
  const unsigned year = ((y0 * 10 + y1) * 10 + y2) * 10 + y3;
  std::size_t i = 16;
  unsigned second = 0;
  std::int64_t fraction_micros = 0;
  if (i < n && p[i] == ':') {
    if (i + 3 > n || (second = two_digits(p + i + 1)) > 99) return timestamp_error::syntax;
    i += 3;
    if (i < n && p[i] == '.') {
      ++i;
      const std::size_t first = i;
      const std::size_t stop = n - first > 9 ? first + 9 : n;
      std::int64_t nanos = 0;
      for (unsigned d; i < stop && (d = digit(p[i])) <= 9; ++i) nanos = nanos * 10 + d;
      if (i == first || (i < n && digit(p[i]) <= 9)) return timestamp_error::syntax;
      fraction_micros = (nanos * nanos_scale[i - first] + 500) / 1000;
    }
  }
  if (i == n) return timestamp_error::no_offset;
  std::int64_t offset_seconds = 0;
  const char sign = p[i];
  if (sign == 'Z' || sign == 'z') {
    ++i;
  } else if (sign == '+' || sign == '-') {
    if (i + 3 > n) return timestamp_error::syntax;
    const unsigned oh = two_digits(p + i + 1);
    unsigned om = 0;
    i += 3;
    if (i < n) {
      if (p[i] == ':') ++i;
      if (i + 2 > n) return timestamp_error::syntax;
      om = two_digits(p + i);
      i += 2;
    }
    if (oh > 99 || om > 99) return timestamp_error::syntax;
    if (oh > 15 || om > 59) return timestamp_error::out_of_range;
    offset_seconds = (static_cast<std::int64_t>(oh) * 3600 + om * 60) * (sign == '-' ? -1 : 1);
  } else {
    return timestamp_error::syntax;
  }
  if (i != n) return timestamp_error::syntax;
  if (year == 0 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 59) {
    return timestamp_error::out_of_range;
  }
  const std::int64_t days = days_from_civil(year, month, day) - postgres_epoch_days;
  const std::int64_t seconds = static_cast<std::int64_t>(hour) * 3600 + minute * 60 + second - offset_seconds;
  return timestamptz{days * micros_per_day + seconds * micros_per_second + fraction_micros};
}

std::string format_timestamptz(timestamptz t) {
  std::int64_t days = t.micros / micros_per_day;
  std::int64_t rest = t.micros % micros_per_day;
  if (rest < 0) {
    rest += micros_per_day;
    --days;
  }
  // H. Hinnant's civil_from_days.
  const std::int64_t z = days + postgres_epoch_days + 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const auto doe = static_cast<unsigned>(z - era * 146'097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  const std::int64_t secs = rest / micros_per_second;
  const std::int64_t frac = rest % micros_per_second;
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, secs / 3600, secs / 60 % 60, secs % 60);
  if (frac != 0) out += fmt::format(".{:06}", frac);
  out += 'Z';
  return out;
}

}  // namespace celeriac::csv
