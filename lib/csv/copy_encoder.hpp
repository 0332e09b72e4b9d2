#pragma once
// PostgreSQL's binary COPY format ("COPY t FROM STDIN WITH (FORMAT
// binary)"), produced from validated rows; libpq's PQputCopyData sends the
// bytes. Layout (all integers big-endian):
//   header   "PGCOPY\n\377\r\n\0", int32 flags 0, int32 extension length 0
//   tuple    int16 field count, then per field int32 length (-1 = NULL)
//            and the payload: bigint int64, double precision IEEE float64,
//            boolean 1 byte (0/1), text the raw UTF-8 bytes, timestamptz
//            int64 microseconds since 2000-01-01 UTC
//   trailer  int16 -1
// The payload is chosen by the value's type, so the table's columns must
// have the types pg_type_name gives for the profile's columns.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "csv/validate.hpp"

namespace celeriac::csv {

// The 19 header bytes.
inline constexpr std::string_view copy_header{"PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19};
// The 2 trailer bytes.
inline constexpr std::string_view copy_trailer{"\377\377", 2};

class copy_encoder {
 public:
  copy_encoder() = default;

  // Appends the header: once, before the first row of each COPY command.
  void write_header();

  // Appends one tuple. Throws std::length_error for a row of more than
  // 32767 fields or a field of 2 GiB or more, which the format cannot hold
  // (a record that large cannot come out of a reader).
  void write_row(std::span<const value> row);

  // Appends the trailer: once, after the last row of the COPY command.
  void write_trailer();

  // The bytes written since the last clear().
  std::string_view bytes() const noexcept { return {data_.get(), size_}; }
  std::size_t size() const noexcept { return size_; }

  // Forgets the bytes (after handing them to PQputCopyData), keeping the
  // memory for the next ones.
  void clear() noexcept { size_ = 0; }

 private:
  char* extend(std::size_t n);

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace celeriac::csv
