#pragma once
// Test helper: runs a csv::reader to the end and keeps owned copies of the
// records, so runs with different chunkings, buffers and start points can be
// compared whole.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "csv/byte_source.hpp"
#include "csv/reader.hpp"

namespace celeriac::csv::test {

struct owned_record {
  std::vector<std::string> fields;
  std::vector<bool> quoted;
  std::string raw;
  std::uint64_t line = 0;
  std::uint64_t next_line = 0;
  std::uint64_t offset = 0;
  std::uint64_t end_offset = 0;
  bool is_header = false;
  record_error error = record_error::none;
  std::uint64_t error_offset = 0;
  std::string message;

  bool ok() const noexcept { return error == record_error::none; }
  friend bool operator==(const owned_record&, const owned_record&) = default;
};

inline owned_record own(const record& r) {
  owned_record o;
  for (const field& f : r.fields) {
    o.fields.emplace_back(f.text);
    o.quoted.push_back(f.quoted);
  }
  o.raw = std::string(r.raw);
  o.line = r.line;
  o.next_line = r.next_line;
  o.offset = r.offset;
  o.end_offset = r.end_offset;
  o.is_header = r.is_header;
  o.error = r.error;
  o.error_offset = r.error_offset;
  o.message = std::string(r.message);
  return o;
}

inline std::ostream& operator<<(std::ostream& os, const owned_record& r) {
  os << "{line " << r.line << ".." << r.next_line << ", bytes " << r.offset << ".." << r.end_offset
     << (r.is_header ? ", header" : "") << ", error " << to_string(r.error) << "@" << r.error_offset << ", fields [";
  for (std::size_t i = 0; i < r.fields.size(); ++i) {
    os << (i ? "|" : "") << (r.quoted[i] ? "q:" : "") << r.fields[i];
  }
  return os << "], raw '" << r.raw << "'}";
}

inline std::ostream& operator<<(std::ostream& os, const std::vector<owned_record>& v) {
  for (const owned_record& r : v) os << r << "\n";
  return os;
}

// Parses data[config.start_offset..] with reads of at most `chunk` bytes.
inline std::vector<owned_record> parse_all(std::string_view data, reader_config config = {},
                                           std::size_t chunk = static_cast<std::size_t>(-1)) {
  memory_source source(data.substr(config.start_offset), chunk);
  reader rd(source, config);
  std::vector<owned_record> out;
  while (const record* r = rd.next()) out.push_back(own(*r));
  return out;
}

}  // namespace celeriac::csv::test
