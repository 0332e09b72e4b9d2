#pragma once
// ISO-8601 timestamps with a UTC offset, parsed by hand (no locale, no
// allocation) into PostgreSQL's timestamptz representation.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace celeriac::csv {

// Microseconds since 2000-01-01T00:00:00Z, PostgreSQL's epoch: the value a
// binary COPY sends for a timestamptz.
struct timestamptz {
  std::int64_t micros = 0;
  friend bool operator==(timestamptz, timestamptz) = default;
};

// Microseconds between 1970-01-01 and 2000-01-01 (Unix to PostgreSQL epoch).
inline constexpr std::int64_t postgres_epoch_unix_micros = 946'684'800'000'000;

enum class timestamp_error : std::uint8_t {
  syntax,        // not of the accepted form
  no_offset,     // a date and time, but no Z or ±HH[:MM]
  out_of_range,  // the form is right but a part is not (month 13, Feb 30, offset +16:00)
};

// Called by result<timestamptz, timestamp_error>::value() on an error:
// throws std::invalid_argument.
[[noreturn]] void throw_exception_from_error(timestamp_error e, const boost::source_location& loc);

// Parses YYYY-MM-DD[T ]HH:MM[:SS[.f...]](Z|±HH|±HH:MM|±HHMM), where 't' and
// 'z' may be lowercase, the fraction has 1 to 9 digits (rounded to the
// nearest microsecond, half up), years are 0001-9999, seconds 00-59 and
// offsets up to ±15:59. Nothing else may surround it.
boost::system::result<timestamptz, timestamp_error> parse_timestamptz(std::string_view text) noexcept;

// "2024-05-01T10:00:00.123456Z" (fraction only when not zero): for tests
// and messages. Years outside 0001-9999 are printed as they come.
std::string format_timestamptz(timestamptz t);

}  // namespace celeriac::csv
