#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "csv/reader.hpp"
#include "parse_all.hpp"

using namespace celeriac::csv;
using celeriac::csv::test::owned_record;
using celeriac::csv::test::parse_all;

namespace {

reader_config no_header() {
  reader_config c;
  c.header = false;
  return c;
}

std::vector<std::string> fields(const owned_record& r) { return r.fields; }

}  // namespace

TEST_CASE("reader: header and plain records with their lines and offsets") {
  const std::string data = "a,b,c\n1,2,3\nx,y,z\n";
  const auto recs = parse_all(data);
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].is_header);
  CHECK(fields(recs[0]) == std::vector<std::string>{"a", "b", "c"});
  CHECK_FALSE(recs[1].is_header);
  CHECK(fields(recs[1]) == std::vector<std::string>{"1", "2", "3"});
  CHECK(recs[1].line == 2);
  CHECK(recs[1].next_line == 3);
  CHECK(recs[1].offset == 6);
  CHECK(recs[1].end_offset == 12);
  CHECK(recs[1].raw == "1,2,3");
  CHECK(recs[2].line == 3);
  CHECK(recs[2].end_offset == data.size());
  for (const auto& r : recs) CHECK(r.error == record_error::none);
}

TEST_CASE("reader: quoted fields, escaped quotes and embedded newlines") {
  const std::string data =
      "\"Joe's Pizza, Downtown\",\"The \"\"Best\"\"\",plain\n"
      "\"line one\nline two\r\nline three\",\"\"\"\",\"a,b\"\n"
      "next,row,here\n";
  const auto recs = parse_all(data, no_header());
  REQUIRE(recs.size() == 3);
  CHECK(fields(recs[0]) == std::vector<std::string>{"Joe's Pizza, Downtown", "The \"Best\"", "plain"});
  CHECK(recs[0].quoted == std::vector<bool>{true, true, false});
  CHECK(fields(recs[1]) == std::vector<std::string>{"line one\nline two\r\nline three", "\"", "a,b"});
  CHECK(recs[1].line == 2);
  CHECK(recs[1].next_line == 5);
  CHECK(recs[1].raw == "\"line one\nline two\r\nline three\",\"\"\"\",\"a,b\"");
  CHECK(recs[2].line == 5);
  CHECK(fields(recs[2]) == std::vector<std::string>{"next", "row", "here"});
}

TEST_CASE("reader: CRLF line endings") {
  const std::string data = "a,b\r\n\"q\",2\r\nlast,\"x\r\ny\"\r\n";
  const auto recs = parse_all(data, no_header());
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].raw == "a,b");
  CHECK(recs[0].end_offset == 5);
  CHECK(fields(recs[1]) == std::vector<std::string>{"q", "2"});
  CHECK(recs[1].raw == "\"q\",2");
  CHECK(recs[1].line == 2);
  CHECK(fields(recs[2]) == std::vector<std::string>{"last", "x\r\ny"});
  CHECK(recs[2].line == 3);
  CHECK(recs[2].next_line == 5);
  CHECK(recs[2].end_offset == data.size());
}

TEST_CASE("reader: a UTF-8 byte order mark is skipped at the file start only") {
  const std::string bom = "\xEF\xBB\xBF";
  SUBCASE("at byte 0") {
    const auto recs = parse_all(bom + "name,n\n" + "x,1\n");
    REQUIRE(recs.size() == 2);
    CHECK(fields(recs[0]) == std::vector<std::string>{"name", "n"});
    CHECK(recs[0].offset == 3);
    CHECK(recs[0].line == 1);
    CHECK(recs[1].offset == 10);
  }
  SUBCASE("read one byte at a time") {
    const auto recs = parse_all(bom + "name,n\n", reader_config{}, 1);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].fields[0] == "name");
  }
  SUBCASE("elsewhere it is data") {
    const auto recs = parse_all("a\n" + bom + "b\n", no_header());
    REQUIRE(recs.size() == 2);
    CHECK(recs[1].fields[0] == bom + "b");
    CHECK(recs[1].ok());
  }
  SUBCASE("not at a resume offset") {
    const std::string data = "a\n" + bom + "b\n";
    reader_config c = no_header();
    c.start_offset = 2;
    c.start_line = 2;
    const auto recs = parse_all(data, c);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].fields[0] == bom + "b");
  }
}

TEST_CASE("reader: the last record needs no line terminator") {
  SUBCASE("unquoted") {
    const auto recs = parse_all("a,b\nc,d", no_header());
    REQUIRE(recs.size() == 2);
    CHECK(fields(recs[1]) == std::vector<std::string>{"c", "d"});
    CHECK(recs[1].end_offset == 7);
    CHECK(recs[1].next_line == 2);
  }
  SUBCASE("quoted") {
    const auto recs = parse_all("a,b\nc,\"d\"", no_header());
    REQUIRE(recs.size() == 2);
    CHECK(fields(recs[1]) == std::vector<std::string>{"c", "d"});
    CHECK(recs[1].ok());
  }
  SUBCASE("empty last field") {
    const auto recs = parse_all("a,b\nc,", no_header());
    REQUIRE(recs.size() == 2);
    CHECK(fields(recs[1]) == std::vector<std::string>{"c", ""});
    CHECK(recs[1].ok());
  }
}

TEST_CASE("reader: blank lines are skipped but counted") {
  const std::string data = "\n\na,b\n\r\n\nc,d\n\n";
  const auto recs = parse_all(data, no_header());
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].line == 3);
  CHECK(recs[0].offset == 2);
  CHECK(recs[1].line == 6);
  CHECK(recs[1].offset == 9);
  CHECK(parse_all("", no_header()).empty());
  CHECK(parse_all("\n\r\n\n", no_header()).empty());

  memory_source source(data);
  reader rd(source, no_header());
  while (rd.next() != nullptr) {
  }
  CHECK(rd.offset() == data.size());
  CHECK(rd.line() == 8);
}

TEST_CASE("reader: an empty unquoted field is NULL, a quoted one is the empty string") {
  memory_source source("a,,\"\",\" \"\n");
  reader rd(source, no_header());
  const record* r = rd.next();
  REQUIRE(r != nullptr);
  REQUIRE(r->fields.size() == 4);
  CHECK_FALSE(r->fields[0].is_null());
  CHECK(r->fields[1].is_null());
  CHECK_FALSE(r->fields[2].is_null());
  CHECK(r->fields[2].text.empty());
  CHECK(r->fields[3].text == " ");
}

TEST_CASE("reader: other delimiters") {
  reader_config c = no_header();
  c.delimiter = ';';
  auto recs = parse_all("a,b;\"c;d\";e\n", c);
  REQUIRE(recs.size() == 1);
  CHECK(fields(recs[0]) == std::vector<std::string>{"a,b", "c;d", "e"});
  c.delimiter = '\t';
  recs = parse_all("a b\t\"c\td\"\t\n", c);
  REQUIRE(recs.size() == 1);
  CHECK(fields(recs[0]) == std::vector<std::string>{"a b", "c\td", ""});
}

TEST_CASE("reader: a delimiter that cannot work is refused") {
  memory_source source("");
  reader_config c;
  c.delimiter = '"';
  CHECK_THROWS_AS(reader(source, c), std::invalid_argument);
  c.delimiter = '\n';
  CHECK_THROWS_AS(reader(source, c), std::invalid_argument);
  c.delimiter = static_cast<char>(0xC3);
  CHECK_THROWS_AS(reader(source, c), std::invalid_argument);
}

TEST_CASE("reader: a stray quote in an unquoted field") {
  const auto recs = parse_all("ok,1\n5\" screen,2\nnext,3\n", no_header());
  REQUIRE(recs.size() == 3);
  CHECK(recs[1].error == record_error::stray_quote);
  CHECK(recs[1].error_offset == 6);
  CHECK(recs[1].line == 2);
  CHECK(recs[1].raw == "5\" screen,2");
  CHECK(recs[1].message ==
        "column 1: double quote inside an unquoted field at byte 6; enclose the field in double quotes "
        "and double the quotes inside it");
  CHECK(recs[2].ok());
  CHECK(fields(recs[2]) == std::vector<std::string>{"next", "3"});
  CHECK(recs[2].line == 3);
}

TEST_CASE("reader: text after a closing quote") {
  const auto recs = parse_all("a,\"b\"c,d\ne,f,g\n", no_header());
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].error == record_error::stray_quote);
  CHECK(recs[0].error_offset == 5);
  CHECK(recs[0].message ==
        "column 2: text after the closing double quote at byte 5; a quoted field must end at the "
        "delimiter or the end of the line");
  CHECK(recs[0].end_offset == 9);
  CHECK(recs[0].fields.size() == 3);
  CHECK(recs[1].ok());
}

TEST_CASE("reader: an unterminated quote at the end of the file") {
  const auto recs = parse_all("a,b\nc,\"open\nstill open,\n", no_header());
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].error == record_error::unterminated_quote);
  CHECK(recs[1].error_offset == 6);
  CHECK(recs[1].line == 2);
  CHECK(recs[1].next_line == 4);
  CHECK(recs[1].raw == "c,\"open\nstill open,\n");
  CHECK(recs[1].end_offset == 24);
  CHECK(recs[1].message ==
        "column 2: the quoted field opened at byte 6 is not closed before the end of the file; close it, "
        "and double any double quote inside it");
}

TEST_CASE("reader: a carriage return without a line feed") {
  const auto recs = parse_all("a\rb,c\nd,e\r", no_header());
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].error == record_error::bare_carriage_return);
  CHECK(recs[0].error_offset == 1);
  CHECK(recs[0].raw == "a\rb,c");
  CHECK(recs[0].message ==
        "column 1: carriage return without a line feed at byte 1; enclose the field in double quotes if "
        "it is data, or end lines with LF or CRLF");
  CHECK(recs[1].error == record_error::bare_carriage_return);
  CHECK(recs[1].error_offset == 9);
  // Inside quotes it is data.
  const auto quoted = parse_all("\"a\rb\",c\n", no_header());
  REQUIRE(quoted.size() == 1);
  CHECK(quoted[0].ok());
  CHECK(quoted[0].fields[0] == "a\rb");
}

TEST_CASE("reader: invalid UTF-8 is reported with its byte") {
  SUBCASE("Latin-1") {
    const auto recs = parse_all("name,n\ncaf\xE9,1\nok,2\n");
    REQUIRE(recs.size() == 3);
    CHECK(recs[1].error == record_error::invalid_utf8);
    CHECK(recs[1].error_offset == 10);
    CHECK(recs[1].message == "column 1: invalid UTF-8 byte 0xE9 at byte 10; re-encode the file as UTF-8");
    CHECK(recs[1].fields.size() == 2);
    CHECK(recs[2].ok());
  }
  SUBCASE("in a later, quoted column") {
    const auto recs = parse_all("x,\"a,\xC0\xAF\"\n", no_header());
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].error == record_error::invalid_utf8);
    CHECK(recs[0].error_offset == 5);
    CHECK(recs[0].message == "column 2: invalid UTF-8 byte 0xC0 at byte 5; re-encode the file as UTF-8");
  }
  SUBCASE("a sequence cut by the delimiter") {
    const auto recs = parse_all("\xE2\x82,\xAC\n", no_header());
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].error == record_error::invalid_utf8);
    CHECK(recs[0].error_offset == 0);
  }
  SUBCASE("valid multi-byte text passes") {
    const auto recs = parse_all("Café,東京,🍕,Пекарня\n", no_header());
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].ok());
  }
}

TEST_CASE("reader: field counts") {
  SUBCASE("from the header") {
    const auto recs = parse_all("a,b,c\n1,2\n1,2,3\n1,2,3,4\n");
    REQUIRE(recs.size() == 4);
    CHECK(recs[1].error == record_error::field_count);
    CHECK(recs[1].message == "2 fields, expected 3 (as in the header)");
    CHECK(recs[1].fields.size() == 2);
    CHECK(recs[2].ok());
    CHECK(recs[3].error == record_error::field_count);
  }
  SUBCASE("from the first record") {
    const auto recs = parse_all("1,2\n1\n", no_header());
    REQUIRE(recs.size() == 2);
    CHECK(recs[1].message == "1 fields, expected 2 (as in the first record)");
  }
  SUBCASE("declared") {
    reader_config c;
    c.field_count = 3;
    const auto recs = parse_all("a,b\n", c);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].is_header);
    CHECK(recs[0].message == "2 fields, expected 3 (as declared)");
  }
}

TEST_CASE("reader: a record longer than the buffer grows it") {
  const std::string big(5000, 'x');
  const std::string data = "a,b\n" + big + ",\"" + big + "\"\"" + big + "\"\nc,d\n";
  reader_config c = no_header();
  c.buffer_bytes = 16;
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{100000}}) {
    const auto recs = parse_all(data, c, chunk);
    REQUIRE(recs.size() == 3);
    CHECK(recs[1].ok());
    CHECK(recs[1].fields[0] == big);
    CHECK(recs[1].fields[1] == big + "\"" + big);
    CHECK(fields(recs[2]) == std::vector<std::string>{"c", "d"});
  }
}

TEST_CASE("reader: a record over max_record_bytes is an error record, not a crash") {
  reader_config c = no_header();
  c.buffer_bytes = 8;
  c.max_record_bytes = 64;
  const std::string long_quoted = "\"" + std::string(40, 'q') + "\n" + std::string(40, 'r') + "\"";
  const std::string data = "a,b\n" + long_quoted + ",x\nc,d\n";
  for (auto [buffer, chunk] : {std::pair<std::size_t, std::size_t>{8, 1}, {8, 3}, {8, 1000}, {1 << 20, 1000}}) {
    CAPTURE(buffer);
    CAPTURE(chunk);
    c.buffer_bytes = buffer;
    const auto recs = parse_all(data, c, chunk);
    REQUIRE(recs.size() == 3);
    CHECK(recs[1].error == record_error::too_large);
    CHECK(recs[1].line == 2);
    CHECK(recs[1].next_line == 4);
    CHECK(recs[1].offset == 4);
    CHECK(recs[1].end_offset == 4 + long_quoted.size() + 3);
    CHECK(recs[1].fields.empty());
    CHECK(recs[1].raw == data.substr(4, 64));
    CHECK(recs[1].message ==
          "the record is longer than the 64-byte limit and was skipped; if it should not be, look for an "
          "unclosed double quote where it starts");
    CHECK(recs[2].ok());
    CHECK(recs[2].line == 4);
    CHECK(fields(recs[2]) == std::vector<std::string>{"c", "d"});
  }
  SUBCASE("an unclosed quote swallows the rest of the file") {
    const std::string tail = "x,\"" + std::string(200, 'y') + "\n" + std::string(10, 'z') + "\n";
    for (auto [buffer, chunk] : {std::pair<std::size_t, std::size_t>{8, 1}, {8, 1000}, {1 << 20, 1000}}) {
      c.buffer_bytes = buffer;
      const auto recs = parse_all("a,b\n" + tail, c, chunk);
      REQUIRE(recs.size() == 2);
      CHECK(recs[1].error == record_error::too_large);
      CHECK(recs[1].end_offset == 4 + tail.size());
      CHECK(recs[1].next_line == 4);
    }
  }
}

TEST_CASE("reader: default buffer, a 20 MiB record is skipped and reading goes on") {
  const std::string data = "a,b\n" + std::string(20u << 20, 'x') + ",1\nc,d\n";
  const auto recs = parse_all(data, no_header(), 1 << 16);
  REQUIRE(recs.size() == 3);
  CHECK(recs[1].error == record_error::too_large);
  CHECK(recs[1].raw.size() == 64 * 1024);
  CHECK(recs[2].ok());
  CHECK(recs[2].offset == data.size() - 4);
}

TEST_CASE("reader: file_source reads a fixture and resumes at an offset") {
  const std::string path = std::string(CELERIAC_FIXTURES_DIR) + "/csv/llm_mappings.csv";
  auto source = file_source::open(path);
  REQUIRE(source.has_value());
  reader rd(*source, reader_config{});
  std::vector<owned_record> all;
  while (const record* r = rd.next()) all.push_back(celeriac::csv::test::own(*r));
  REQUIRE(all.size() > 3);

  auto resumed = file_source::open(path, all[2].end_offset);
  REQUIRE(resumed.has_value());
  reader_config c;
  c.start_offset = all[2].end_offset;
  c.start_line = all[2].next_line;
  c.field_count = 6;
  reader rd2(*resumed, c);
  const record* r = rd2.next();
  REQUIRE(r != nullptr);
  CHECK(celeriac::csv::test::own(*r) == all[3]);

  auto missing = file_source::open("/nonexistent/x.csv");
  REQUIRE(missing.has_error());
  CHECK(missing.error().message == "cannot open CSV file '/nonexistent/x.csv': No such file or directory");
  auto beyond = file_source::open(path, 1u << 30);
  REQUIRE(beyond.has_error());
  CHECK(beyond.error().message.find("has only") != std::string::npos);
}
