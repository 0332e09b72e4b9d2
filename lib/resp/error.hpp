// Error codes of the RESP layer: malformed or oversized input seen by the
// parser, and misuse of a reply through the checked accessors of value.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace celeriac::resp {

enum class error {
  // Parser: the input is not RESP. The stream cannot be resynchronised,
  // so the connection that produced it must be dropped.

  // A value started with a byte that is not a RESP2/RESP3 type marker.
  invalid_type_byte = 1,
  // A header line or a bulk payload was not followed by "\r\n".
  missing_crlf,
  // An integer, length or count field is not a valid base-10 integer.
  bad_integer,
  // A bulk length or aggregate count is negative (other than -1 for nil).
  bad_length,
  // A bulk string is longer than parser::max_bulk_size.
  bulk_too_large,
  // An aggregate has more elements than parser::max_aggregate_size.
  aggregate_too_large,
  // Aggregates are nested deeper than parser::max_depth.
  nesting_too_deep,
  // A header or simple-string line is longer than parser::max_line_size.
  line_too_long,
  // A RESP3 double (",") is not a number, "inf", "-inf" or "nan".
  bad_double,
  // A RESP3 boolean ("#") is neither "t" nor "f".
  bad_boolean,
  // A RESP3 big number ("(") is not an optionally signed run of digits.
  bad_big_number,
  // A RESP3 verbatim string ("=") lacks its three-letter "xxx:" format prefix.
  bad_verbatim,
  // A RESP3 streamed string or aggregate ("$?", "*?"); Redis never sends them.
  streamed_unsupported,

  // Accessors: the reply is well formed but not what the caller asked for.

  // The reply is an error reply ("-ERR ..."); read it with error_message().
  server_error,
  // The reply is nil (a missing key, a timed-out blocking pop, ...).
  nil_value,
  // The reply has another type than the one asked for.
  wrong_type,
};

// The category of resp::error; its name is "celeriac.resp".
const boost::system::error_category& error_category() noexcept;

// Makes an error_code of the resp category; found by ADL so that
// `boost::system::error_code ec = error::bad_integer;` works.
boost::system::error_code make_error_code(error e) noexcept;

}  // namespace celeriac::resp

template <>
struct boost::system::is_error_code_enum<celeriac::resp::error> : std::true_type {};
