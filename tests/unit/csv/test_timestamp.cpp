#include <doctest/doctest.h>

#include <string>

#include "csv/timestamp.hpp"

using namespace celeriac::csv;

namespace {

std::int64_t micros(std::string_view text) {
  const auto r = parse_timestamptz(text);
  REQUIRE_MESSAGE(r.has_value(), "not parsed: ", std::string(text));
  return r->micros;
}

timestamp_error error_of(std::string_view text) {
  const auto r = parse_timestamptz(text);
  REQUIRE_MESSAGE(r.has_error(), "parsed: ", std::string(text));
  return r.error();
}

constexpr std::int64_t second = 1'000'000;

}  // namespace

TEST_CASE("timestamp: the PostgreSQL epoch and known instants") {
  CHECK(micros("2000-01-01T00:00:00Z") == 0);
  CHECK(micros("2000-01-01T00:00:01Z") == second);
  CHECK(micros("1999-12-31T23:59:59Z") == -second);
  CHECK(micros("1970-01-01T00:00:00Z") == -postgres_epoch_unix_micros);
  // 2024-05-01T08:15:00Z is Unix 1714551300.
  CHECK(micros("2024-05-01T08:15:00Z") == 1714551300 * second - postgres_epoch_unix_micros);
  CHECK(micros("0001-01-01T00:00:00Z") == -63082281600 * second);
  CHECK(micros("9999-12-31T23:59:59Z") == 252455615999 * second);
}

TEST_CASE("timestamp: accepted forms") {
  const std::int64_t t = micros("2024-05-01T08:15:00Z");
  CHECK(micros("2024-05-01 08:15:00Z") == t);
  CHECK(micros("2024-05-01t08:15:00z") == t);
  CHECK(micros("2024-05-01T08:15Z") == t);
  CHECK(micros("2024-05-01T10:15:00+02:00") == t);
  CHECK(micros("2024-05-01T10:15:00+02") == t);
  CHECK(micros("2024-05-01T10:15:00+0200") == t);
  CHECK(micros("2024-05-01T13:45:00+05:30") == t);
  CHECK(micros("2024-05-01T03:15:00-05:00") == t);
  CHECK(micros("2024-05-01T08:15:00+00:00") == t);
  CHECK(micros("2024-05-01T08:15:00-00:00") == t);
  CHECK(micros("2024-05-01T08:15:00.5Z") == t + 500'000);
  CHECK(micros("2024-05-01T08:15:00.123456Z") == t + 123'456);
  CHECK(micros("2024-05-01T08:15:00.1234564Z") == t + 123'456);
  CHECK(micros("2024-05-01T08:15:00.1234565Z") == t + 123'457);
  CHECK(micros("2024-05-01T08:15:00.999999999Z") == t + second);
  CHECK(micros("2024-02-29T00:00:00Z") - micros("2024-02-28T00:00:00Z") == 86400 * second);
  CHECK(micros("2000-02-29T00:00:00Z") > 0);
}

TEST_CASE("timestamp: refused forms say why") {
  CHECK(error_of("yesterday") == timestamp_error::syntax);
  CHECK(error_of("") == timestamp_error::syntax);
  CHECK(error_of("2024-05-01") == timestamp_error::syntax);
  CHECK(error_of("2024-05-01T08:15:00") == timestamp_error::no_offset);
  CHECK(error_of("2024-05-01 08:15") == timestamp_error::no_offset);
  CHECK(error_of("2024-05-01T08:15:00.Z") == timestamp_error::syntax);
  CHECK(error_of("2024-05-01T08:15:00.1234567890Z") == timestamp_error::syntax);
  CHECK(error_of("2024-05-01T08:15:00Z ") == timestamp_error::syntax);
  CHECK(error_of("2024-05-01T08:15:00+2") == timestamp_error::syntax);
  CHECK(error_of("2024-05-01T08:15:00+02:0") == timestamp_error::syntax);
  CHECK(error_of("2024-05-01T08:15:00 UTC") == timestamp_error::syntax);
  CHECK(error_of("2024-5-01T08:15:00Z") == timestamp_error::syntax);
  CHECK(error_of("2024-05-01X08:15:00Z") == timestamp_error::syntax);
  CHECK(error_of("2023-02-29T00:00:00Z") == timestamp_error::out_of_range);
  CHECK(error_of("1900-02-29T00:00:00Z") == timestamp_error::out_of_range);
  CHECK(error_of("2024-13-01T00:00:00Z") == timestamp_error::out_of_range);
  CHECK(error_of("2024-04-31T00:00:00Z") == timestamp_error::out_of_range);
  CHECK(error_of("2024-05-00T00:00:00Z") == timestamp_error::out_of_range);
  CHECK(error_of("0000-05-01T00:00:00Z") == timestamp_error::out_of_range);
  CHECK(error_of("2024-05-01T24:00:00Z") == timestamp_error::out_of_range);
  CHECK(error_of("2024-05-01T08:60:00Z") == timestamp_error::out_of_range);
  CHECK(error_of("2024-05-01T08:15:60Z") == timestamp_error::out_of_range);
  CHECK(error_of("2024-05-01T08:15:00+16:00") == timestamp_error::out_of_range);
  CHECK(error_of("2024-05-01T08:15:00+01:60") == timestamp_error::out_of_range);
}

TEST_CASE("timestamp: formatting round-trips") {
  for (const char* text : {"2000-01-01T00:00:00Z", "1999-12-31T23:59:59.999999Z", "2024-02-29T12:34:56.000001Z",
                           "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"}) {
    CHECK(format_timestamptz(timestamptz{micros(text)}) == text);
  }
  CHECK(format_timestamptz(timestamptz{micros("2024-05-01T10:15:00.5+02:00")}) == "2024-05-01T08:15:00.500000Z");
}
