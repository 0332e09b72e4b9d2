#pragma once
// Row validation: a parsed record checked against its profile's declared
// column types, giving typed values ready for the COPY encoder, or the
// first bad field with a reason a person can act on.
//
// Field rules (PostgreSQL's CSV semantics for NULL):
//   - An empty unquoted field is NULL; a NULL in a not-null column fails.
//     A quoted "" is the empty string: valid text, invalid anything else.
//   - text: valid UTF-8 (the reader checked it), no NUL byte (PostgreSQL
//     cannot store one), at most max_length characters when set.
//   - integer: [+-]digits within int64. float: a finite decimal number
//     (from_chars' general form, optional '+') within [min, max] when set.
//   - boolean: true/false, t/f, yes/no, y/n, on/off, 1/0, any case.
//   - timestamptz: see parse_timestamptz.
//   - enumeration: exactly one of the allowed values.
//   - Non-text values may be surrounded by spaces or tabs, as PostgreSQL
//     allows; text is taken as it is.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "csv/error.hpp"
#include "csv/profile.hpp"
#include "csv/reader.hpp"
#include "csv/timestamp.hpp"

namespace celeriac::csv {

// A typed field: monostate is NULL; integer -> int64_t, floating ->
// double, boolean -> bool, text and enumeration -> string_view (into the
// record: valid as long as it is), timestamptz -> timestamptz.
using value = std::variant<std::monostate, std::int64_t, double, bool, std::string_view, timestamptz>;

struct field_error {
  // 0-based column of the bad field; record_column when the record as a
  // whole is wrong (a reader error, a wrong field count).
  std::size_t column = 0;
  std::string reason;  // "confidence: 1.7 is outside [0, 1]"

  static constexpr std::size_t record_column = static_cast<std::size_t>(-1);
};

// Called by result<T, field_error>::value() on an error: throws
// std::invalid_argument(e.reason).
[[noreturn]] void throw_exception_from_error(const field_error& e, const boost::source_location& loc);

// Converts every field of `rec` by its column in `profile`, into `out`
// (resized to the column count; reuse it across rows to avoid allocating).
// Returns the first failing field: its column and a reason starting with
// the column name. A record with a reader error fails with the reader's
// message. Reasons never repeat the line number (the record has it). On
// failure `out` holds unspecified values.
boost::system::result<void, field_error> validate(const record& rec, const import_profile& profile,
                                                  std::vector<value>& out);

// Checks that a header record names the profile's columns, in order
// (exact, case-sensitive). The error shows the expected and the found
// header and the first column that differs.
result<void> check_header(const record& header, const import_profile& profile);

}  // namespace celeriac::csv
