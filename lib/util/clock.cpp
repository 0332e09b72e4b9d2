#include "util/clock.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace celeriac::util {
namespace {

using namespace std::chrono;

std::string format_iso(wall_time t, bool with_offset) {
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  auto micros = hms.subseconds().count();
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", int(ymd.year()), unsigned(ymd.month()),
                                unsigned(ymd.day()), hms.hours().count(), hms.minutes().count(),
                                hms.seconds().count());
  if (micros != 0) out += fmt::format(".{:06}", micros);
  if (with_offset) out += "+00:00";
  return out;
}

// Reads exactly n digits at text[pos]; advances pos.
bool read_digits(std::string_view text, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += n;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

wall_time wall_now() noexcept { return time_point_cast<microseconds>(system_clock::now()); }

double unix_seconds(wall_time t) noexcept {
  return static_cast<double>(t.time_since_epoch().count()) / 1e6;
}

wall_time from_unix_seconds(double s) noexcept {
  return wall_time(microseconds(static_cast<long long>(std::llround(s * 1e6))));
}

std::string iso8601_utc(wall_time t) { return format_iso(t, true); }
std::string iso8601_naive(wall_time t) { return format_iso(t, false); }

std::optional<wall_time> parse_iso8601(std::string_view text) {
  std::size_t pos = 0;
  int y, mo, d, h, mi, s = 0;
  if (!read_digits(text, pos, 4, y) || !expect(text, pos, '-') || !read_digits(text, pos, 2, mo) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, d))
    return std::nullopt;
  if (!(expect(text, pos, 'T') || expect(text, pos, ' '))) return std::nullopt;
  if (!read_digits(text, pos, 2, h) || !expect(text, pos, ':') || !read_digits(text, pos, 2, mi))
    return std::nullopt;
  long long micros = 0;
  if (expect(text, pos, ':')) {
    if (!read_digits(text, pos, 2, s)) return std::nullopt;
    if (expect(text, pos, '.')) {
      std::size_t start = pos;
      long long frac = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (pos - start < 6) frac = frac * 10 + (text[pos] - '0');
        ++pos;
      }
      std::size_t n = pos - start;
      if (n == 0) return std::nullopt;
      for (std::size_t k = n; k < 6; ++k) frac *= 10;
      micros = frac;
    }
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  long long offset_seconds = 0;
  if (pos < text.size()) {
    char sign = text[pos];
    if (sign == 'Z' || sign == 'z') {
      ++pos;
    } else if (sign == '+' || sign == '-') {
      ++pos;
      int oh, om = 0, os = 0;
      if (!read_digits(text, pos, 2, oh)) return std::nullopt;
      if (expect(text, pos, ':')) {
        if (!read_digits(text, pos, 2, om)) return std::nullopt;
        if (expect(text, pos, ':') && !read_digits(text, pos, 2, os)) return std::nullopt;
      } else if (pos < text.size() && !read_digits(text, pos, 2, om)) {
        return std::nullopt;
      }
      if (oh > 23 || om > 59 || os > 59) return std::nullopt;
      offset_seconds = (oh * 3600 + om * 60 + os) * (sign == '-' ? -1 : 1);
    } else {
      return std::nullopt;
    }
  }
  if (pos != text.size()) return std::nullopt;
  auto local = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) + microseconds(micros);
  return time_point_cast<microseconds>(local - seconds(offset_seconds));
}

}  // namespace celeriac::util
