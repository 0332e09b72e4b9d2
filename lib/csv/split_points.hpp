#pragma once
// Where a CSV file can be cut into parts that separate readers load at
// once: record boundaries found by the reader's own grammar (reader.hpp),
// never a byte offset guessed from the size. A quoted field may hold line
// feeds, so a line feed is a boundary only when the grammar is outside
// quotes there; that depends on every byte before it, so the file is
// scanned from its first byte, once, up to the last boundary wanted.
//
// A split point is a position just after a line feed that ends a record
// or a blank line (so never inside a record), with the physical line that
// starts there, and never before the end of the file's first record: that
// record is the header when there is one, and only a reader starting at
// byte 0 takes it as the header. At such a position a full parse has finished a record and
// holds no state but the line number and the expected field count. So a
// csv::reader started there (start_offset, start_line, field_count
// declared), over a source cut at the next split point (bounded_source),
// yields exactly the records a full parse yields between the two points;
// the parts' records, concatenated, are the file's records. The unit tests
// and the CSV fuzz target check exactly that against the reader.
//
// The scanner's states are the reader's (and its too-large-record skipper's):
//   field_start  '"' opens a quoted field; anything else is unquoted data
//   unquoted     the delimiter starts a field; a line feed ends the record
//                (a CR before it changes nothing); a '"' is a stray quote
//                and stays data
//   quoted       only '"' matters: it may close the field
//   quote_seen   '"' is an escaped quote (back to quoted); anything else is
//                handled as unquoted (delimiter, line feed, or stray text)
// A UTF-8 byte order mark at byte 0 is skipped, as the reader does, so a
// quote right after it opens a quoted field. The end of the data inside a
// quoted field (an unterminated quote) leaves no boundary after it.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "csv/byte_source.hpp"

namespace celeriac::csv {

struct split_point {
  std::uint64_t offset = 0;  // byte offset where the next part starts
  std::uint64_t line = 1;    // physical line (1-based) at that offset
  friend bool operator==(const split_point&, const split_point&) = default;
};

// Reads `source` from the file's byte 0 (`size` bytes in all) and returns
// at most parts - 1 split points, strictly increasing and strictly between
// 0 and size: for k = 1 .. parts-1, the first boundary at or after byte
// k * size / parts, each taken once. Fewer come back when the file has
// fewer boundaries than that (fewer records than parts, one huge record,
// an unterminated quote); none for parts <= 1. Stops reading after the
// last one. Exceptions from the source pass through.
std::vector<split_point> find_split_points(byte_source& source, std::uint64_t size, std::size_t parts,
                                           char delimiter);

}  // namespace celeriac::csv
