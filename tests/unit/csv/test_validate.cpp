#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "csv/profile.hpp"
#include "csv/reader.hpp"
#include "csv/validate.hpp"

using namespace celeriac::csv;

namespace {

const import_profile& llm() { return *find_profile("llm_mappings"); }

import_profile from_spec(std::string_view spec) {
  import_profile p;
  p.name = "test";
  p.table = "t";
  p.columns = parse_column_spec(spec).value();
  return p;
}

// Validates the single record in `line` (no header) against `profile`.
// Returns "" on success, else the reason (with the column index first).
std::string check(std::string_view line, const import_profile& profile, std::vector<value>* values = nullptr) {
  const std::string data(line);
  memory_source source(data);
  reader_config c;
  c.header = false;
  reader rd(source, c);
  const record* r = rd.next();
  REQUIRE(r != nullptr);
  std::vector<value> out;
  const auto v = validate(*r, profile, out);
  if (values != nullptr) *values = out;
  if (v) return "";
  return (v.error().column == field_error::record_column ? std::string("*") : std::to_string(v.error().column)) + " " +
         v.error().reason;
}

}  // namespace

TEST_CASE("validate: a good llm_mappings row gives typed values") {
  std::vector<value> v;
  REQUIRE(check("\"Joe's Pizza, \"\"Downtown\"\"\",Food & Drink,,0.82,1002,2024-05-01T12:30:45.5+02:00", llm(), &v) ==
          "");
  REQUIRE(v.size() == 6);
  // The text views point into the record, which is gone: check the types.
  CHECK(std::holds_alternative<std::string_view>(v[0]));
  CHECK(std::holds_alternative<std::string_view>(v[1]));
  CHECK(std::holds_alternative<std::monostate>(v[2]));
  CHECK(std::get<double>(v[3]) == 0.82);
  CHECK(std::get<std::int64_t>(v[4]) == 1002);
  CHECK(std::get<timestamptz>(v[5]) == parse_timestamptz("2024-05-01T10:30:45.5Z").value());
}

TEST_CASE("validate: text values are views into the record") {
  memory_source source("\"Caf\xC3\xA9 \"\"M\"\"\",x,T,1,2,2024-05-01T00:00:00Z\n");
  reader_config c;
  c.header = false;
  reader rd(source, c);
  const record* r = rd.next();
  REQUIRE(r != nullptr);
  std::vector<value> v;
  REQUIRE(validate(*r, llm(), v).has_value());
  CHECK(std::get<std::string_view>(v[0]) == "Caf\xC3\xA9 \"M\"");
  CHECK(std::get<std::string_view>(v[2]) == "T");
  CHECK(std::get<double>(v[3]) == 1.0);
}

TEST_CASE("validate: the reasons of the issue") {
  CHECK(check("A,Food,,1.7,1,2024-05-01T08:15:00Z", llm()) == "3 confidence: 1.7 is outside [0, 1]");
  CHECK(check("A,Food,,-0.1,1,2024-05-01T08:15:00Z", llm()) == "3 confidence: -0.1 is outside [0, 1]");
  CHECK(check("A,Food,,0.5,1,yesterday", llm()) ==
        "5 created_at: 'yesterday' is not an ISO-8601 timestamp with an offset");
  CHECK(check(",Food,,0.5,1,2024-05-01T08:15:00Z", llm()) == "0 merchant_name: required but empty");
  CHECK(check("A,Food,,0.5,1,", llm()) == "5 created_at: required but empty");
  CHECK(check("A," + std::string(240, 'x') + ",,0.5,1,2024-05-01T08:15:00Z", llm()) ==
        "1 category: 240 characters, the limit is 200");
}

TEST_CASE("validate: text") {
  // 200 characters of two bytes each are within a 200-character limit.
  std::string e200;
  for (int i = 0; i < 200; ++i) e200 += "\xC3\xA9";
  CHECK(check("A," + e200 + ",,0.5,1,2024-05-01T08:15:00Z", llm()) == "");
  CHECK(check("A," + e200 + "x,,0.5,1,2024-05-01T08:15:00Z", llm()) == "1 category: 201 characters, the limit is 200");
  CHECK(check(std::string("A\0B", 3) + ",Food,,0.5,1,2024-05-01T08:15:00Z", llm()) ==
        "0 merchant_name: NUL byte at character 2, which PostgreSQL text cannot store; remove it");
  // A quoted empty string is not NULL, so it satisfies not null.
  CHECK(check("\"\",Food,,0.5,1,2024-05-01T08:15:00Z", llm()) == "");
  // Text is kept as it is, spaces included.
  std::vector<value> v;
  CHECK(check(" A ,Food,,0.5,1,2024-05-01T08:15:00Z", llm(), &v) == "");
}

TEST_CASE("validate: integers") {
  const import_profile p = from_spec("n:integer");
  std::vector<value> v;
  CHECK(check("42", p, &v) == "");
  CHECK(std::get<std::int64_t>(v[0]) == 42);
  CHECK(check("+7", p, &v) == "");
  CHECK(std::get<std::int64_t>(v[0]) == 7);
  CHECK(check(" -9223372036854775808 ", p, &v) == "");
  CHECK(std::get<std::int64_t>(v[0]) == INT64_MIN);
  CHECK(check("\"\"", p) == "0 n: '' is not an integer");
  CHECK(check("abc", p) == "0 n: 'abc' is not an integer");
  CHECK(check("1.0", p) == "0 n: '1.0' is not an integer");
  CHECK(check("1e3", p) == "0 n: '1e3' is not an integer");
  CHECK(check("--1", p) == "0 n: '--1' is not an integer");
  CHECK(check("9223372036854775808", p) ==
        "0 n: 9223372036854775808 is outside the bigint range [-9223372036854775808, 9223372036854775807]");
  CHECK(check(",1", from_spec("n:integer,m:integer"), &v) == "");
  CHECK(std::holds_alternative<std::monostate>(v[0]));
}

TEST_CASE("validate: floats") {
  const import_profile p = from_spec("x:float, y:float(0..), z:float(..10)");
  std::vector<value> v;
  CHECK(check("1.5,0,10", p, &v) == "");
  CHECK(std::get<double>(v[0]) == 1.5);
  CHECK(check("-1e300,+.5,-3", p, &v) == "");
  CHECK(std::get<double>(v[1]) == 0.5);
  CHECK(check("nan,1,1", p) == "0 x: 'nan' is not a finite number");
  CHECK(check("inf,1,1", p) == "0 x: 'inf' is not a finite number");
  CHECK(check("1e999,1,1", p) == "0 x: 1e999 is outside the double precision range");
  CHECK(check("0x10,1,1", p) == "0 x: '0x10' is not a number");
  CHECK(check("high,1,1", p) == "0 x: 'high' is not a number");
  CHECK(check("1,-0.5,1", p) == "1 y: -0.5 is below the minimum 0");
  CHECK(check("1,1,10.5", p) == "2 z: 10.5 is above the maximum 10");
}

TEST_CASE("validate: booleans") {
  const import_profile p = from_spec("b:boolean");
  std::vector<value> v;
  for (const char* t : {"true", "TRUE", "t", "T", "1", "yes", "Y", "on", " True "}) {
    CAPTURE(t);
    CHECK(check(t, p, &v) == "");
    CHECK(std::get<bool>(v[0]));
  }
  for (const char* f : {"false", "False", "f", "0", "no", "N", "off"}) {
    CAPTURE(f);
    CHECK(check(f, p, &v) == "");
    CHECK_FALSE(std::get<bool>(v[0]));
  }
  CHECK(check("maybe", p) == "0 b: 'maybe' is not a boolean (use true/false, t/f, yes/no, y/n, on/off or 1/0)");
  CHECK(check("2", p).starts_with("0 b: '2' is not a boolean"));
}

TEST_CASE("validate: timestamps") {
  const import_profile p = from_spec("at:timestamptz!");
  CHECK(check("2024-05-01 08:15:00", p) == "0 at: '2024-05-01 08:15:00' has no UTC offset; add Z or +HH:MM");
  CHECK(check("2024-02-30T08:15:00Z", p) == "0 at: '2024-02-30T08:15:00Z' has a date, time or offset out of range");
  CHECK(check(" 2024-05-01T08:15:00Z ", p) == "");
}

TEST_CASE("validate: enumerations") {
  const import_profile p = from_spec("kind:enum(card|cash|wire)");
  std::vector<value> v;
  CHECK(check("cash", p, &v) == "");
  CHECK(std::holds_alternative<std::string_view>(v[0]));
  CHECK(check("Cash", p) == "0 kind: 'Cash' is not one of card, cash, wire");
}

TEST_CASE("validate: long bad values are quoted in part") {
  const import_profile p = from_spec("n:integer");
  const std::string reason = check(std::string(100, '9') + "x", p);
  CHECK(reason == "0 n: '" + std::string(60, '9') + "...' is not an integer");
}

TEST_CASE("validate: record-level failures") {
  CHECK(check("a,b", llm()) == "* 2 fields, expected 6 (the columns of profile 'llm_mappings')");
  CHECK(check("a\"b,c", llm()).starts_with("* column 1: double quote inside an unquoted field"));
  import_profile unnamed = from_spec("a:text");
  unnamed.name.clear();
  CHECK(check("a,b", unnamed) == "* 2 fields, expected 1 (the columns of the column spec)");
}

TEST_CASE("validate: the header") {
  auto header_of = [](const std::string& data) {
    static std::string keep;
    keep = data;
    static memory_source* source = nullptr;
    static reader* rd = nullptr;
    delete rd;
    delete source;
    source = new memory_source(keep);
    rd = new reader(*source, reader_config{});
    return rd->next();
  };
  const record* ok = header_of("merchant_name,category,ticker,confidence,user_id,created_at\r\n");
  REQUIRE(ok != nullptr);
  CHECK(check_header(*ok, llm()).has_value());
  const record* renamed = header_of("merchant,category,ticker,confidence,user_id,created_at\n");
  CHECK(check_header(*renamed, llm()).error().message ==
        "the CSV header does not match profile 'llm_mappings': expected "
        "\"merchant_name,category,ticker,confidence,user_id,created_at\", found "
        "\"merchant,category,ticker,confidence,user_id,created_at\"; column 1 is 'merchant' where 'merchant_name' "
        "was expected");
  const record* short_header = header_of("merchant_name,category\n");
  CHECK(check_header(*short_header, llm()).error().message ==
        "the CSV header does not match profile 'llm_mappings': expected "
        "\"merchant_name,category,ticker,confidence,user_id,created_at\", found \"merchant_name,category\"; it has 2 "
        "columns, 6 were expected");
  const record* broken = header_of("merchant_name,\"category\n");
  CHECK(check_header(*broken, llm())
            .error()
            .message.starts_with(
                "cannot read the CSV header (line 1): column 2: the quoted field opened at byte 14 is not closed"));
}

TEST_CASE("validate: the bad_rows fixture, row by row") {
  std::ifstream in(std::string(CELERIAC_FIXTURES_DIR) + "/csv/bad_rows.csv", std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  const std::string data = s.str();
  memory_source source(data);
  reader rd(source, reader_config{});
  std::vector<value> v;
  std::vector<std::string> outcomes;
  while (const record* r = rd.next()) {
    if (r->is_header) {
      CHECK(check_header(*r, llm()).has_value());
      continue;
    }
    const auto ok = validate(*r, llm(), v);
    outcomes.push_back(std::to_string(r->line) + ": " + (ok ? std::string("ok") : ok.error().reason));
  }
  const std::vector<std::string> expected = {
      "2: ok",
      "3: confidence: 1.7 is outside [0, 1]",
      "4: created_at: 'yesterday' is not an ISO-8601 timestamp with an offset",
      "5: merchant_name: required but empty",
      "6: category: 240 characters, the limit is 200",
      "7: created_at: '2024-05-01 08:15:00' has no UTC offset; add Z or +HH:MM",
      "8: user_id: 'abc' is not an integer",
      "9: 2 fields, expected 6 (as in the header)",
      "10: column 1: double quote inside an unquoted field at byte 595; enclose the field in double "
      "quotes and double the quotes inside it",
      "11: created_at: '2024-02-30T08:15:00Z' has a date, time or offset out of range",
      "12: ok",
      "13: column 1: invalid UTF-8 byte 0xE9 at byte 744; re-encode the file as UTF-8",
      "14: column 1: the quoted field opened at byte 780 is not closed before the end of the file; close "
      "it, and double any double quote inside it",
  };
  CHECK(outcomes == expected);
}
