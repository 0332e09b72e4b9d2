#pragma once
// Helpers shared by the cron tests: build instants, and list fire times as
// ISO-8601 text so a failing CHECK shows readable times with offsets.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <date/tz.h>
#include <doctest/doctest.h>

#include "cron/cron_expression.hpp"
#include "cron/schedule.hpp"
#include "cron/time_zone.hpp"

namespace celeriac::cron::testing {

inline std::chrono::sys_seconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return date::sys_days{date::year{y} / mo / d} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{s};
}

// The instant at which `zone`'s clock reads the given local time (the first
// occurrence if it reads it twice).
inline std::chrono::sys_seconds local(const date::time_zone* zone, int y, unsigned mo, unsigned d, int h = 0,
                                      int mi = 0) {
  auto l = date::local_days{date::year{y} / mo / d} + std::chrono::hours{h} + std::chrono::minutes{mi};
  return zone->to_sys(date::local_seconds{l}, date::choose::earliest);
}

inline std::string utc_text(std::chrono::sys_seconds t) { return date::format("%FT%TZ", t); }

inline std::string zoned_text(std::chrono::sys_seconds t, const date::time_zone* zone) {
  return date::format("%FT%T%Ez", date::zoned_seconds{zone, t});
}

inline const date::time_zone* zone(std::string_view name) {
  auto z = find_time_zone(name);
  REQUIRE_MESSAGE(z.has_value(), (z.has_value() ? std::string{} : z.error().message));
  return *z;
}

inline cron_expression parse_ok(std::string_view text) {
  auto e = cron_expression::parse(text);
  REQUIRE_MESSAGE(e.has_value(), text, ": ", (e.has_value() ? std::string{} : e.error().message));
  return *e;
}

inline std::string parse_error(std::string_view text) {
  auto e = cron_expression::parse(text);
  REQUIRE_MESSAGE(!e.has_value(), "expected \"", text, "\" to be rejected");
  return e.error().message;
}

// The next n fire times strictly after `from`, as local ISO-8601 with offset
// (or UTC "Z" when zone is nullptr).
inline std::vector<std::string> next_fires(const schedule& s, const date::time_zone* zone,
                                           std::chrono::sys_seconds from, int n) {
  std::vector<std::string> out;
  auto t = from;
  for (int i = 0; i < n; ++i) {
    t = s.next_after(t, zone);
    out.push_back(zone ? zoned_text(t, zone) : utc_text(t));
  }
  return out;
}

inline std::vector<std::string> next_fires(std::string_view expr, const date::time_zone* zone,
                                           std::chrono::sys_seconds from, int n) {
  return next_fires(schedule{parse_ok(expr)}, zone, from, n);
}

// Deterministic generator of cron expressions (xorshift), so a failure
// reproduces: every field form, values anywhere in range. Some results are
// refused by parse (day 31 in February only); callers skip those.
struct random_expressions {
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;

  unsigned below(unsigned n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<unsigned>(state % n);
  }

  std::string item(unsigned low, unsigned high) {
    const unsigned a = low + below(high - low + 1);
    const unsigned b = a + below(high - a + 1);
    switch (below(6)) {
      case 0: return "*";
      case 1: return "*/" + std::to_string(1 + below(high - low + 1));
      case 2: return std::to_string(a);
      case 3: return std::to_string(a) + "-" + std::to_string(b);
      case 4: return std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(1 + below(5));
      default: return std::to_string(a) + "," + std::to_string(b);
    }
  }

  std::string expression() {
    return item(0, 59) + " " + item(0, 23) + " " + item(1, 31) + " " + item(1, 12) + " " + item(0, 7);
  }
};

}  // namespace celeriac::cron::testing
