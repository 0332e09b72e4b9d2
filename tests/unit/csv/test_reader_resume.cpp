// The reader's two promises that make chunked, resumable imports safe:
// how the bytes arrive never changes the records, and resuming at any
// record's checkpoint yields exactly the rest of a full parse.

#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "parse_all.hpp"

using namespace celeriac::csv;
using celeriac::csv::test::owned_record;
using celeriac::csv::test::parse_all;

namespace {

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(CELERIAC_FIXTURES_DIR) + "/csv/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture ", name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Checks both promises on `data` under `config`.
void check_chunking_and_resume(const std::string& data, reader_config config) {
  const auto first = parse_all(data, config);
  // Declare the field count so that a resumed reader, which never sees the
  // header, expects the same count and gives the same messages.
  if (config.field_count == 0) {
    for (const owned_record& r : first) {
      if (r.error != record_error::too_large) {
        config.field_count = r.fields.size();
        break;
      }
    }
  }
  const auto full = parse_all(data, config);
  for (std::size_t buffer : {std::size_t{4}, std::size_t{9}, std::size_t{64}, std::size_t{1} << 20}) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{4096}}) {
      reader_config c = config;
      c.buffer_bytes = buffer;
      CAPTURE(buffer);
      CAPTURE(chunk);
      REQUIRE(parse_all(data, c, chunk) == full);
    }
  }
  std::uint64_t previous_end = config.start_offset;
  for (std::size_t i = 0; i < full.size(); ++i) {
    CHECK(full[i].offset >= previous_end);
    CHECK(full[i].end_offset > full[i].offset);
    previous_end = full[i].end_offset;
    reader_config c = config;
    c.start_offset = full[i].end_offset;
    c.start_line = full[i].next_line;
    const std::vector<owned_record> tail(full.begin() + static_cast<std::ptrdiff_t>(i) + 1, full.end());
    CAPTURE(i);
    REQUIRE(parse_all(data, c) == tail);
    REQUIRE(parse_all(data, c, 3) == tail);
  }
}

}  // namespace

TEST_CASE("resume: fixtures") {
  for (const char* name : {"llm_mappings.csv", "llm_mappings_bom_crlf.csv", "edge_cases.csv", "bad_rows.csv"}) {
    CAPTURE(name);
    check_chunking_and_resume(read_fixture(name), reader_config{});
  }
}

TEST_CASE("resume: hand-written edge cases") {
  reader_config no_header;
  no_header.header = false;
  for (const char* data : {
           "a,b\n\"x\ny\",\"\"\"\"\n\n\r\nc,d",
           "\xEF\xBB\xBF\"q\",1\r\n2,\"\"\r\n",
           "a\rb,c\nd,\"e\"f\n\"open,\n",
           "\n\n\n",
           "x",
           "\"\"",
           ",\n,\n",
           "caf\xE9,1\n\xF0\x9F\x8D\x95,2\n",
       }) {
    CAPTURE(data);
    check_chunking_and_resume(data, no_header);
    check_chunking_and_resume(data, reader_config{});
  }
}

TEST_CASE("resume: random CSV-ish bytes, with a small record limit") {
  // Bytes the grammar cares about, plus valid and invalid UTF-8.
  const std::vector<std::string> atoms = {"a",    "b",  ",",        ";",    "\"",           "\"\"",     "\n",
                                          "\r\n", "\r", "\xC3\xA9", "\xFF", "\xEF\xBB\xBF", "xyzxyzxyz"};
  std::mt19937 rng(1234);
  for (int round = 0; round < 300; ++round) {
    std::string data;
    const int atoms_in_input = static_cast<int>(rng() % 60);
    for (int k = 0; k < atoms_in_input; ++k) data += atoms[rng() % atoms.size()];
    reader_config c;
    c.header = rng() % 2 == 0;
    c.delimiter = rng() % 4 == 0 ? ';' : ',';
    c.max_record_bytes = rng() % 3 == 0 ? 1 + rng() % 24 : 1 << 20;
    CAPTURE(data);
    CAPTURE(c.max_record_bytes);
    check_chunking_and_resume(data, c);
  }
}
