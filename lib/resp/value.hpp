// resp::value: one Redis reply as a tree (RESP2 and RESP3 types).
//
// Replies are read through checked accessors that return
// boost::system::result, so a nil or an error reply cannot be mistaken for
// data: `as_string()` on "-ERR ..." yields error::server_error, on a
// missing key error::nil_value.
#pragma once

#include "resp/error.hpp"

#include <boost/system/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace celeriac::resp {

// The wire type of a value. RESP2's null bulk string and null array, and
// RESP3's null, all become `nil`.
enum class kind : std::uint8_t {
  nil,
  simple_string,    // "+OK"
  error,            // "-ERR ..." and RESP3 blob errors ("!")
  integer,          // ":42"
  bulk_string,      // "$3\r\nabc"
  array,            // "*2"
  map,              // RESP3 "%": elements hold key, value, key, value, ...
  set,              // RESP3 "~"
  push,             // RESP3 ">": out-of-band data such as pub/sub messages
  double_number,    // RESP3 ","
  boolean,          // RESP3 "#"
  big_number,       // RESP3 "(": kept as its decimal text
  verbatim_string,  // RESP3 "=": text plus a three-letter format ("txt")
};

// Returns the lower-case name of a kind ("bulk_string"), for messages.
std::string_view to_string(kind k) noexcept;

class value {
 public:
  // Spare capacity kept after every bulk string's bytes, so a JSON parser
  // that reads past the end (simdjson needs 64 bytes) can parse in place:
  // text_capacity() - as_string()->size() >= bulk_padding.
  static constexpr std::size_t bulk_padding = 64;

  // A nil value.
  value() noexcept = default;

  // ---- Construction -----------------------------------------------------
  //
  // Each make_* returns a value of that kind holding the argument; they are
  // the same values the parser produces, so tests compare replies with ==.

  static value make_nil() noexcept { return {}; }
  static value make_simple(std::string text);
  static value make_error(std::string message);
  static value make_integer(std::int64_t n) noexcept;
  static value make_bulk(std::string bytes);
  static value make_double(double d) noexcept;
  static value make_boolean(bool b) noexcept;
  static value make_big_number(std::string digits);
  // `format` is the three-letter RESP3 format such as "txt" or "mkd"; it is
  // truncated or space-padded to three characters.
  static value make_verbatim(std::string_view format, std::string text);
  static value make_array(std::vector<value> elements);
  // `flat` holds key, value, key, value, ...; its size must be even.
  static value make_map(std::vector<value> flat);
  static value make_set(std::vector<value> elements);
  static value make_push(std::vector<value> elements);

  // ---- Type tests -------------------------------------------------------

  resp::kind kind() const noexcept { return kind_; }
  bool is_nil() const noexcept { return kind_ == resp::kind::nil; }
  bool is_error() const noexcept { return kind_ == resp::kind::error; }
  // True for the kinds as_string() accepts: simple, bulk and verbatim.
  bool is_string() const noexcept;
  bool is_integer() const noexcept { return kind_ == resp::kind::integer; }
  // True for array, map, set and push: the kinds elements() accepts.
  bool is_aggregate() const noexcept;

  // ---- Checked accessors ------------------------------------------------
  //
  // Each returns the payload, or error::server_error for an error reply,
  // error::nil_value for nil, error::wrong_type for anything else.

  // The bytes of a simple, bulk or verbatim string (without the verbatim
  // format prefix). The view lives as long as this value is unchanged.
  boost::system::result<std::string_view> as_string() const noexcept;
  // The number of an integer reply. Bulk strings holding digits are not
  // converted: a reply of the wrong kind is a bug to surface.
  boost::system::result<std::int64_t> as_integer() const noexcept;
  // The number of a RESP3 double, or of an integer reply.
  boost::system::result<double> as_double() const noexcept;
  // The truth value of a RESP3 boolean.
  boost::system::result<bool> as_boolean() const noexcept;
  // The children of an aggregate; for a map they alternate key, value.
  boost::system::result<std::span<const value>> elements() const noexcept;
  // Mutable children, so callers can move strings out of a reply.
  boost::system::result<std::span<value>> elements() noexcept;

  // ---- Unchecked views --------------------------------------------------

  // The message of an error reply ("NOSCRIPT No matching script..."), or
  // an empty view if this is not an error.
  std::string_view error_message() const noexcept;
  // The first word of an error reply ("ERR", "NOSCRIPT", "WRONGTYPE"), or
  // an empty view if this is not an error.
  std::string_view error_kind() const noexcept;
  // The raw text of any textual kind (strings, errors, big numbers), or an
  // empty view.
  std::string_view text() const noexcept { return text_; }
  // The capacity of the buffer behind text(); see bulk_padding.
  std::size_t text_capacity() const noexcept { return text_.capacity(); }
  // The format of a verbatim string ("txt"), empty otherwise.
  std::string_view verbatim_format() const noexcept;
  // Moves the text out (leaving this value's text empty); no copy for
  // callers that keep a bulk payload.
  std::string take_text() noexcept { return std::move(text_); }

  // A one-line rendering for logs and test failures, e.g.
  // `["message", "ch", "payload"]`, `-ERR unknown command`, `nil`. Long
  // strings are elided in the middle.
  std::string to_debug_string() const;

  friend bool operator==(const value&, const value&) = default;

 private:
  friend class parser;

  resp::kind kind_ = resp::kind::nil;
  std::array<char, 3> format_{};  // verbatim strings only
  std::int64_t integer_ = 0;      // integer; boolean as 0/1
  double double_ = 0.0;
  std::string text_;
  std::vector<value> elements_;
};

}  // namespace celeriac::resp
