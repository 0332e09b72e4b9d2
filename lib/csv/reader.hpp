#pragma once
// Streaming RFC 4180 CSV reader: pulls bytes from a byte_source into a
// bounded buffer and yields one record at a time, never the whole file.
//
// The grammar, byte by byte (delimiter D, one byte, default ','):
//   - A record is fields separated by D, ended by LF, by CRLF, or by the end
//     of the data (the last record needs no line terminator).
//   - A field starting with '"' is quoted: it runs to the next lone '"';
//     inside, '""' is one '"', and D, CR and LF are data. After the closing
//     quote comes D, a line terminator or the end of the data.
//   - Any other field is unquoted and holds no '"', no CR and no LF.
//   - Line numbers count LF bytes, so a CRLF is one line break and an LF
//     inside a quoted field starts a new physical line.
//   - A UTF-8 byte order mark (EF BB BF) is skipped at byte 0 of the file
//     only; anywhere else it is data (U+FEFF).
//   - Blank lines (nothing but LF or CRLF) are skipped: they yield no record
//     but are counted in line numbers. So an empty line never means "one
//     NULL field" (as it does in PostgreSQL's COPY); quote such a value.
//   - An empty unquoted field is NULL, a quoted empty field ("") is the
//     empty string: PostgreSQL's CSV semantics. See field::is_null().
//
// Malformed input never stops the reader: the record is yielded with an
// error (kind, byte offset, message) and reading goes on at the next line
// terminator the grammar finds, so one bad record costs one row. The
// errors, first found wins:
//   - too_large: the record, line terminator included, is longer than
//     max_record_bytes. Its bytes are skipped, not buffered; raw keeps its
//     first bytes and fields is empty.
//   - unterminated_quote: the end of the data is inside a quoted field.
//   - stray_quote: a '"' inside an unquoted field, or anything but D or a
//     line terminator after a closing quote (the rest of the field is then
//     read as unquoted).
//   - bare_carriage_return: a CR outside quotes not followed by LF (it is
//     then read as data; PostgreSQL refuses it too).
//   - invalid_utf8: the record is not UTF-8; error_offset is the bad byte.
//   - field_count: the record has another number of fields than expected:
//     reader_config::field_count, else the header's (or, without a header,
//     the first record's) count.
// The fields of a record with a structural error (anything but
// invalid_utf8 and field_count) are a best effort: report it with raw.
//
// Resume: every record carries the checkpoint to resume after it,
// (end_offset, next_line). A reader given that offset and line, over a
// source positioned at that offset, yields exactly the records a full
// parse would have yielded after it (set field_count when doing so: the
// header, before the checkpoint, is not read again).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "csv/byte_source.hpp"

namespace celeriac::csv {

struct reader_config {
  char delimiter = ',';
  // The first record of the file (at start_offset 0) is a header: it is
  // yielded with record::is_header set, and sets the expected field count.
  bool header = true;
  // Where the source starts: 0 for a new file, or a checkpoint's
  // (end_offset, next_line). Lines are 1-based.
  std::uint64_t start_offset = 0;
  std::uint64_t start_line = 1;
  // Fields every record must have; 0 means take the count from the header
  // or, without one, from the first record.
  std::size_t field_count = 0;
  // field_count is the header's (a reader resuming after a header it
  // checked): messages then say "as in the header", as a full parse's do.
  bool field_count_from_header = false;
  // Initial buffer size in bytes. The buffer grows only to hold one record
  // larger than this, and shrinks back after it.
  std::size_t buffer_bytes = std::size_t{1} << 20;
  // Longest record accepted, line terminator included; longer ones become
  // too_large error records.
  std::size_t max_record_bytes = std::size_t{16} << 20;
};

enum class record_error : std::uint8_t {
  none,
  too_large,
  unterminated_quote,
  stray_quote,
  bare_carriage_return,
  invalid_utf8,
  field_count,
};

// "too_large", "unterminated_quote", ... ("none" for none).
std::string_view to_string(record_error e) noexcept;

struct field {
  std::string_view text;  // unescaped content, without the enclosing quotes
  bool quoted = false;    // the field was written between double quotes

  // An empty unquoted field; "" (quoted, empty) is an empty string instead.
  bool is_null() const noexcept { return !quoted && text.empty(); }
};

// One record. Its views (fields, raw, message) stay valid until the next
// call to reader::next() or the reader's destruction. (end_offset,
// next_line) is the checkpoint to resume after it.
struct record {
  std::span<const field> fields;
  std::string_view raw;          // the record's bytes, without its line terminator
  std::uint64_t line = 0;        // physical line (1-based) where the record starts
  std::uint64_t next_line = 0;   // physical line where the next record may start
  std::uint64_t offset = 0;      // byte offset of the record's first byte
  std::uint64_t end_offset = 0;  // byte offset just after it, line terminator included
  bool is_header = false;
  record_error error = record_error::none;
  std::uint64_t error_offset = 0;  // byte offset the error points at (0 without error)
  std::string_view message;        // for a person, without the line; empty when error is none

  bool ok() const noexcept { return error == record_error::none; }
};

class reader {
 public:
  // Reads from `source`, which must outlive the reader and be positioned at
  // config.start_offset. Reads nothing yet. Throws std::invalid_argument
  // for a config that cannot work: a delimiter that is '"', CR, LF or not
  // ASCII, max_record_bytes 0, start_line 0.
  reader(byte_source& source, const reader_config& config);
  ~reader();
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;

  // Returns the next record (see record for how long it stays valid), or
  // nullptr at the end of the data. Exceptions from the source pass through;
  // the reader should not be used after one.
  const record* next();

  // Checkpoint of everything consumed so far: the byte offset and line just
  // after the last record returned (or skipped blank line).
  std::uint64_t offset() const noexcept;
  std::uint64_t line() const noexcept { return line_; }

  // Fields expected per record (0 while not yet known).
  std::size_t field_count() const noexcept { return field_count_; }

 private:
  enum class scan : std::uint8_t { complete, need_more, end_of_data };
  enum class field_end : std::uint8_t { delimiter, record, need_more };
  struct owned_field {
    std::size_t index;   // in fields_
    std::size_t offset;  // in arena_
    std::size_t size;
  };
  // State of skip_bytes, the byte-wise machine that finds the end of a
  // too-large record without buffering it.
  enum class skip_state : std::uint8_t { field_start, unquoted, quoted, quote_seen, cr_seen };

  scan parse_record();
  field_end scan_unquoted(const char* field_begin, const char*& p);
  field_end scan_quoted(const char*& p);
  void push_field(const char* begin, const char* end, bool quoted);
  void set_error(record_error e, const char* at) noexcept;
  void finish_record(const char* start, const char* p);
  void check_record();
  bool refill();
  void start_skip();
  bool skip_bytes(const char* p, const char* end);
  void finish_skip();
  void describe_error();
  std::uint64_t absolute(const char* p) const noexcept;

  byte_source& source_;
  reader_config config_;

  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;                     // usable bytes in buf_ (padding not counted)
  const char* pos_ = nullptr;               // start of the unconsumed bytes
  const char* end_ = nullptr;               // end of the bytes read so far
  std::uint64_t base_ = 0;                  // file offset of buf_[0]
  std::uint64_t line_ = 1;                  // line at pos_
  const char* utf8_checked_end_ = nullptr;  // [record start, here) is valid UTF-8
  bool eof_ = false;                        // the source has returned 0
  bool started_ = false;                    // first fill and BOM check done
  bool header_pending_ = false;
  std::size_t field_count_ = 0;
  bool field_count_from_header_ = false;

  // The record being built.
  record rec_;
  std::vector<field> fields_;
  std::vector<owned_field> owned_;
  std::string arena_;            // unescaped text of fields that held ""
  std::string message_;          // rec_.message
  std::uint64_t rec_lines_ = 0;  // LFs seen in the record so far
  std::size_t term_len_ = 0;     // bytes of its line terminator (0 at the end of data)

  // Skipping a too-large record.
  skip_state skip_ = skip_state::field_start;
  std::string skipped_raw_;  // its first bytes, for rec_.raw
  std::uint64_t skip_start_offset_ = 0;
  std::uint64_t skip_lines_ = 0;
};

}  // namespace celeriac::csv
