// csv::find_split_points, the cut a parallel import makes: every split
// point must be a place where a reader can start and yield exactly what a
// full parse yields from there, and the parts' records, read each by its
// own reader up to the next point, must be the file's records. Checked
// against the reader itself, on hand-written traps (a line feed inside
// quotes right at the cut, escaped quotes, stray quotes, CRLF, a BOM, an
// unterminated quote, other delimiters, fewer records than parts) and on
// random CSV-ish bytes.

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "csv/split_points.hpp"
#include "parse_all.hpp"

using namespace celeriac::csv;
using celeriac::csv::test::own;
using celeriac::csv::test::owned_record;
using celeriac::csv::test::parse_all;

namespace celeriac::csv {
inline std::ostream& operator<<(std::ostream& os, const split_point& p) {
  return os << "{offset " << p.offset << ", line " << p.line << "}";
}
}  // namespace celeriac::csv

namespace {

std::vector<split_point> split(std::string_view data, std::size_t parts, char delimiter = ',',
                               std::size_t chunk = static_cast<std::size_t>(-1)) {
  memory_source source(data, chunk);
  return find_split_points(source, data.size(), parts, delimiter);
}

// The reader's own answer: a position p in (0, size) right after a line
// feed that no record of the full parse spans (records and their line
// terminators included; blank lines between records are fair game), at or
// after the end of the first record.
std::vector<split_point> reference(std::string_view data, std::size_t parts, const reader_config& config) {
  std::vector<split_point> out;
  if (parts <= 1 || data.empty()) return out;
  const auto records = parse_all(data, config);
  if (records.empty()) return out;
  std::vector<bool> inside(data.size() + 1, false);
  for (const owned_record& r : records)
    for (std::uint64_t p = r.offset + 1; p < r.end_offset; ++p) inside[p] = true;
  std::vector<split_point> candidates;
  std::uint64_t line = 1;
  for (std::size_t p = 1; p < data.size(); ++p) {
    if (data[p - 1] != '\n') continue;
    ++line;
    if (!inside[p] && p >= records.front().end_offset) candidates.push_back({p, line});
  }
  std::size_t k = 1;
  for (const split_point& c : candidates) {
    if (k >= parts) break;
    const std::uint64_t target = data.size() * k / parts;
    if (c.offset < target) continue;
    out.push_back(c);
    while (k < parts && data.size() * k / parts <= c.offset) ++k;
  }
  return out;
}

// Reads each part with its own reader (started at its split point, cut at
// the next) and returns the records of all parts in order.
std::vector<owned_record> parse_parts(std::string_view data, const std::vector<split_point>& points,
                                      const reader_config& config, std::size_t chunk = 5) {
  std::vector<owned_record> out;
  for (std::size_t i = 0; i <= points.size(); ++i) {
    reader_config c = config;
    if (i > 0) {
      c.start_offset = points[i - 1].offset;
      c.start_line = points[i - 1].line;
    }
    const std::uint64_t end = i < points.size() ? points[i].offset : data.size();
    memory_source whole(data.substr(c.start_offset), chunk);
    bounded_source part(whole, end - c.start_offset);
    reader rd(part, c);
    while (const record* r = rd.next()) {
      CHECK(r->end_offset <= end);
      out.push_back(own(*r));
    }
    CHECK(rd.offset() == end);
  }
  return out;
}

// The field count a resuming reader declares (parts after the first never
// see the header).
reader_config declared(std::string_view data, reader_config config) {
  if (config.field_count != 0) return config;
  for (const owned_record& r : parse_all(data, config)) {
    if (r.error != record_error::too_large) {
      config.field_count = r.fields.size();
      break;
    }
  }
  return config;
}

// Everything promised, for `data` cut into 2 .. max_parts parts.
void check_splits(std::string_view data, reader_config config, std::size_t max_parts = 6) {
  config = declared(data, config);
  const auto full = parse_all(data, config);
  for (std::size_t parts = 1; parts <= max_parts; ++parts) {
    CAPTURE(parts);
    const auto points = split(data, parts, config.delimiter);
    REQUIRE(points == reference(data, parts, config));
    REQUIRE(split(data, parts, config.delimiter, 1) == points);
    REQUIRE(split(data, parts, config.delimiter, 7) == points);
    CHECK(points.size() < std::max<std::size_t>(parts, 1));
    for (std::size_t i = 0; i < points.size(); ++i) {
      CHECK(points[i].offset > (i ? points[i - 1].offset : 0));
      CHECK(points[i].offset < data.size());
    }
    REQUIRE(parse_parts(data, points, config) == full);
  }
}

std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(CELERIAC_FIXTURES_DIR) + "/csv/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture ", name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("split points: a line feed inside quotes right at the cut is not a boundary") {
  // Pad the first record so that the byte after the quoted line feed is
  // exactly at size / 2, where a byte-offset split would cut.
  const std::string head = "a,b\n\"";
  const std::string tail = "yyyy\",z\nc,d\ne,f\n";
  std::string pad;
  std::string data;
  for (;; pad += 'x') {
    data = head + pad + "\n" + tail;
    if (head.size() + pad.size() + 1 >= data.size() / 2) break;
  }
  const std::size_t inner_lf = head.size() + pad.size();
  REQUIRE(data[inner_lf] == '\n');
  REQUIRE(inner_lf + 1 == data.size() / 2);
  const auto points = split(data, 2);
  REQUIRE(points.size() == 1);
  CHECK(points[0].offset == data.find("c,d"));
  CHECK(points[0].line == 4);  // lines 2-3 are the quoted record
  check_splits(data, reader_config{});
  reader_config no_header;
  no_header.header = false;
  check_splits(data, no_header);
}

TEST_CASE("split points: escaped quotes, stray quotes, CRLF, bare CR") {
  // "" inside quotes keeps the field open: the LF after ""hi is data.
  const std::string escaped = "q\n\"he said \"\"hi\n\"\" twice\"\nnext\nlast\n";
  CHECK(split(escaped, 2) == std::vector<split_point>{{escaped.find("next"), 4}});
  check_splits(escaped, reader_config{});
  // A quote inside an unquoted field is stray data (a quote-parity count
  // would think the LF after it is quoted).
  const std::string stray = "ab\"c\nde\nfg\nhi\n";
  CHECK(split(stray, 4) == std::vector<split_point>{{5, 2}, {8, 3}, {11, 4}});
  check_splits(stray, reader_config{});
  // Text after a closing quote makes the rest of the field unquoted.
  check_splits("\"a\"b\"\nc\n\"d\ne\"\nf\n", reader_config{});
  // CRLF: the cut is after the LF, never between CR and LF.
  const std::string crlf = "a,b\r\nc,d\r\n\"e\r\nf\",g\r\nh,i\r\n";
  for (const split_point& p : split(crlf, 5)) CHECK(crlf[p.offset - 1] == '\n');
  check_splits(crlf, reader_config{});
  // A bare CR is data; it ends nothing.
  check_splits("a\rb,c\nd,e\r\n\r\nf,\"\r\"\n", reader_config{});
}

TEST_CASE("split points: a byte order mark makes the quote after it open a field") {
  const std::string data = "\xEF\xBB\xBF\"x\ny\",1\nz,2\nw,3\n";
  // Without skipping the mark, the quote would be stray and the LF after
  // x a boundary at a quarter of the file.
  const auto points = split(data, 4);
  REQUIRE(points.size() == 2);
  CHECK(points[0].offset == data.find("z,2"));
  check_splits(data, reader_config{});
  // Anywhere else EF BB BF is data: the quote after it is stray.
  check_splits("a\n\xEF\xBB\xBF\"x\ny\",1\nz,2\n", reader_config{});
}

TEST_CASE("split points: the delimiter decides where quoted fields start") {
  const std::string data = "h\na,\"b\nc\";d\ne\nf\ng\n";
  // With ',' the quoted field holds the LF after b; with ';' the quote is
  // stray and that LF ends a record.
  for (const split_point& p : split(data, 8, ',')) CHECK(p.offset != data.find("c\";"));
  bool cut_after_b = false;
  for (const split_point& p : split(data, 8, ';')) cut_after_b = cut_after_b || p.offset == data.find("c\";");
  CHECK(cut_after_b);
  reader_config semicolon;
  semicolon.delimiter = ';';
  check_splits(data, reader_config{}, 8);
  check_splits(data, semicolon, 8);
  reader_config tab;
  tab.delimiter = '\t';
  check_splits("a\t\"b\nc\"\nd\te\n", tab);
}

TEST_CASE("split points: fewer records than parts, one record, nothing") {
  CHECK(split("h\n1\n", 4) == std::vector<split_point>{{2, 2}});
  CHECK(split("h\n1\n2\n", 8).size() == 2);
  CHECK(split("only,record", 4).empty());
  CHECK(split("only,record\n", 4).empty());  // the boundary at the end makes no part
  CHECK(split("", 4).empty());
  CHECK(split("a\nb\nc\nd\n", 1).empty());
  CHECK(split("a\nb\nc\nd\n", 0).empty());
  // Blank lines before the first record (the header) are no place to cut:
  // the header must be read by the part that starts at byte 0.
  CHECK(split("\n\r\n\nh\n1\n2\n", 8) == std::vector<split_point>{{6, 5}, {8, 6}});
  CHECK(split("\n\n\n", 3).empty());
  CHECK(split("\r\r\nh\n", 3) == std::vector<split_point>{{3, 2}});  // a bare CR is a record
  // An unterminated quote runs to the end: no boundary after it.
  CHECK(split("a\n\"b\nc\nd\ne\n", 4) == std::vector<split_point>{{2, 2}});
  // One huge record takes every target it spans.
  const std::string huge = "h\n\"" + std::string(1000, '\n') + "\"\nlast\n";
  CHECK(split(huge, 4) == std::vector<split_point>{{huge.find("last"), 1003}});
  for (const char* data : {"h\n1\n", "h\n1\n2\n", "only,record", "a\n\"b\nc\nd\ne\n", "\n\n\n", "x\n\n\ny\n"})
    check_splits(data, reader_config{}, 8);
}

TEST_CASE("split points: fixtures, with and without a header") {
  for (const char* name : {"llm_mappings.csv", "llm_mappings_bom_crlf.csv", "edge_cases.csv", "bad_rows.csv"}) {
    CAPTURE(name);
    const std::string data = read_fixture(name);
    check_splits(data, reader_config{}, 9);
    reader_config no_header;
    no_header.header = false;
    check_splits(data, no_header, 4);
  }
}

TEST_CASE("split points: quoted fields across the scanner's 1 MiB blocks; balanced parts") {
  std::string data = "merchant_name,n\n";
  std::size_t records = 0;
  while (data.size() < (std::size_t{3} << 20)) {
    const std::string n = std::to_string(records++);
    if (records % 5 == 0) {
      data += "\"long\n" + std::string(3000 + records % 97, 'q') + "\"\"\n\"," + n + "\n";
    } else {
      data += "name " + n + "," + n + "\n";
    }
  }
  const reader_config config = declared(data, reader_config{});
  const auto full = parse_all(data, config);
  for (std::size_t parts : {2, 3, 4, 7}) {
    CAPTURE(parts);
    const auto points = split(data, parts);
    REQUIRE(points.size() == parts - 1);
    REQUIRE(points == reference(data, parts, config));
    REQUIRE(parse_parts(data, points, config, 65536) == full);
    // Each cut is the first boundary at its target: at most one record
    // (about 3 KB here) past it.
    for (std::size_t k = 1; k < parts; ++k) {
      const std::uint64_t target = data.size() * k / parts;
      CHECK(points[k - 1].offset >= target);
      CHECK(points[k - 1].offset - target < 3200);
    }
  }
}

TEST_CASE("split points: parts read as the import reads them give a full parse's records and messages") {
  // The import lets the first part read the header; later parts declare
  // its count and say it is the header's, so messages match.
  const std::string data = "a,b,c\n1,2,3\n4,5\n\"x\ny\",8,9\n10,11,12,13\n14,15,16\n";
  const auto full = parse_all(data, reader_config{});
  for (std::size_t parts = 2; parts <= 6; ++parts) {
    CAPTURE(parts);
    const auto points = split(data, parts);
    std::vector<owned_record> joined;
    for (std::size_t i = 0; i <= points.size(); ++i) {
      reader_config c;
      if (i > 0) {
        c.start_offset = points[i - 1].offset;
        c.start_line = points[i - 1].line;
        c.field_count = 3;
        c.field_count_from_header = true;
      }
      const std::uint64_t end = i < points.size() ? points[i].offset : data.size();
      memory_source rest(std::string_view(data).substr(c.start_offset));
      bounded_source part(rest, end - c.start_offset);
      reader rd(part, c);
      while (const record* r = rd.next()) joined.push_back(own(*r));
    }
    CHECK(joined == full);
  }
  bool said_header = false;
  for (const owned_record& r : full) said_header = said_header || r.message == "2 fields, expected 3 (as in the header)";
  CHECK(said_header);
}

TEST_CASE("split points: random CSV-ish bytes agree with the reader") {
  const std::vector<std::string> atoms = {"a",  "b",  ",",        ";",    "\"",          "\"\"", "\n",
                                          "\n", "\r\n", "\r",     "\xC3\xA9", "\xFF", "\xEF\xBB\xBF", "xyzxyz"};
  std::mt19937 rng(4321);
  for (int round = 0; round < 3000; ++round) {
    std::string data = rng() % 8 == 0 ? "\xEF\xBB\xBF" : "";
    const int atoms_in_input = static_cast<int>(rng() % 80);
    for (int k = 0; k < atoms_in_input; ++k) data += atoms[rng() % atoms.size()];
    reader_config c;
    c.header = rng() % 2 == 0;
    c.delimiter = rng() % 4 == 0 ? ';' : ',';
    c.max_record_bytes = rng() % 4 == 0 ? 1 + rng() % 24 : 1 << 20;
    // A small starting buffer (it grows as records need): the inputs are
    // tiny, and 1 MiB per reader made this test take minutes under ASan.
    c.buffer_bytes = 64;
    CAPTURE(data);
    CAPTURE(c.delimiter);
    CAPTURE(c.max_record_bytes);
    check_splits(data, c, 7);
  }
}
