// resp::parser: an incremental RESP2/RESP3 parser with no I/O.
//
// Feed it whatever the socket returned, in chunks of any size (one byte at
// a time works); it hands back each complete top-level value in order.
// Every input byte is examined once: partial header lines are carried in a
// small buffer and bulk payloads are copied straight into their value, so a
// value split across many reads costs no re-scanning.
//
// Input from the peer is untrusted: sizes and nesting are checked against
// the named limits below before anything is allocated, and malformed input
// yields a resp::error, never undefined behaviour. After an error the
// parser stays failed (the stream cannot be resynchronised) until reset().
#pragma once

#include "resp/value.hpp"

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace celeriac::resp {

class parser {
 public:
  // Deepest nesting of aggregates accepted; Redis replies nest 2-3 deep
  // (EXEC of XREAD results), so 16 only stops hostile input.
  static constexpr std::size_t max_depth = 16;
  // Largest bulk string accepted: Redis's own proto-max-bulk-len default.
  static constexpr std::size_t max_bulk_size = std::size_t{512} * 1024 * 1024;
  // Most elements (map entries) in one aggregate.
  static constexpr std::size_t max_aggregate_size = std::size_t{1} << 24;
  // Longest header or simple-string/error line, without its CRLF.
  static constexpr std::size_t max_line_size = std::size_t{1} << 20;

  // Consumes bytes from the front of `input` until one top-level value is
  // complete or `input` is exhausted, and advances `input` past what it
  // consumed. Returns the value if one completed; std::nullopt if more
  // bytes are needed or on error. On malformed input sets `ec` to a
  // resp::error and leaves the parser failed; a failed parser returns the
  // same error at once. Throws only std::bad_alloc.
  std::optional<value> parse(std::string_view& input, boost::system::error_code& ec);

  // Consumes all of `chunk`, appending each completed top-level value to
  // `out` in order. On malformed input sets `ec` (values completed before
  // the bad byte are still appended). Throws only std::bad_alloc.
  void feed(std::string_view chunk, std::vector<value>& out, boost::system::error_code& ec);

  // True when no partial value is buffered: the stream is at a boundary.
  bool idle() const noexcept;

  // Drops any partial value and clears a failure, ready for a new stream.
  void reset() noexcept;

 private:
  enum class state { line, bulk_payload, bulk_crlf };

  // An aggregate being filled.
  struct frame {
    value aggregate;
    std::size_t remaining;  // elements still to come
    bool attribute;         // RESP3 "|": parsed and then dropped
  };

  // Handles one header line (type byte + body, CRLF stripped). Returns a
  // completed scalar, or nothing when it opened a bulk or an aggregate.
  std::optional<value> on_line(std::string_view line, boost::system::error_code& ec);
  // Opens a bulk payload for a value of kind `k`; `body` is its length field.
  std::optional<value> begin_bulk(kind k, std::string_view body, boost::system::error_code& ec);
  // Opens an aggregate of kind `k` whose count field is `body`, expecting
  // `per_entry` elements per counted entry (2 for maps).
  std::optional<value> begin_aggregate(kind k, std::string_view body, std::size_t per_entry,
                                       bool attribute, boost::system::error_code& ec);
  // Finishes the bulk in bulk_ (verbatim prefix check, padding).
  std::optional<value> finish_bulk(boost::system::error_code& ec);
  // Hands a completed value to its parent; returns it if it is top-level.
  std::optional<value> complete(value v);
  // Records a failure and returns nothing, so callers can `return fail(...)`.
  std::nullopt_t fail(error e, boost::system::error_code& ec) noexcept;

  state state_ = state::line;
  std::string line_;                  // a header line split across feeds
  value bulk_;                        // the bulk string being filled
  std::size_t bulk_remaining_ = 0;    // payload bytes still to copy
  std::size_t crlf_seen_ = 0;         // bytes of the payload's CRLF seen
  std::vector<frame> stack_;          // open aggregates, outermost first
  boost::system::error_code failed_;  // sticky failure
};

}  // namespace celeriac::resp
