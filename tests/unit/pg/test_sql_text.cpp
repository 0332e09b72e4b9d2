#include <doctest/doctest.h>

#include <stdexcept>

#include "pg/sql_text.hpp"

using namespace celeriac::pg;

TEST_CASE("array_literal quotes and escapes every element") {
  array_literal a;
  CHECK(a.finish() == "{}");
  a.add("plain");
  a.add("with \"quotes\" and \\ backslash");
  a.add_null();
  a.add("NULL");  // the string, not SQL NULL
  a.add("");
  a.add(std::int64_t{-42});
  a.add(std::optional<std::string>{});
  a.add(std::optional<std::int64_t>{7});
  CHECK(a.finish() == R"({"plain","with \"quotes\" and \\ backslash",NULL,"NULL","",-42,NULL,7})");
  CHECK(a.finish() == "{}");  // reusable
  a.add("{,}");
  CHECK(a.finish() == R"({"{,}"})");
}

TEST_CASE("copy_text writes COPY's text format") {
  copy_text rows;
  CHECK(rows.finish().empty());
  rows.add("plain");
  rows.add_null();
  rows.add("\\N");  // the text, not NULL
  rows.add("tab\there, new\nline, cr\r, back\\slash");
  rows.add(std::int64_t{-42});
  rows.add(std::optional<std::string>{});
  rows.end_row();
  rows.add("");
  rows.end_row();
  CHECK(rows.finish() == "plain\t\\N\t\\\\N\ttab\\there, new\\nline, cr\\r, back\\\\slash\t-42\t\\N\n\n");
  rows.add("again");
  rows.end_row();
  CHECK(rows.finish() == "again\n");  // reusable
}

TEST_CASE("identifiers are validated before quoting") {
  CHECK(valid_identifier("public"));
  CHECK(valid_identifier("App_2"));
  CHECK(valid_identifier("_x"));
  CHECK(valid_identifier(std::string(63, 'a')));
  CHECK_FALSE(valid_identifier(std::string(64, 'a')));
  CHECK_FALSE(valid_identifier(""));
  CHECK_FALSE(valid_identifier("2fast"));
  CHECK_FALSE(valid_identifier("a-b"));
  CHECK_FALSE(valid_identifier("x\"; DROP TABLE t; --"));
  CHECK_FALSE(valid_identifier("caf\xc3\xa9"));
  CHECK(quote_identifier("App_2") == "\"App_2\"");
  CHECK_THROWS_AS(quote_identifier("a b"), std::invalid_argument);
}

TEST_CASE("sanitize_utf8 replaces invalid sequences and NUL") {
  std::string ok = "plain ascii, caf\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x98\x80";
  std::string copy = ok;
  sanitize_utf8(copy);
  CHECK(copy == ok);

  std::string bad("a\0b", 3);
  sanitize_utf8(bad);
  CHECK(bad == "a\xef\xbf\xbd" "b");

  std::string invalid = "x\xff y\xc3 z\xed\xa0\x80";  // stray byte, truncated sequence, surrogate
  sanitize_utf8(invalid);
  CHECK(invalid == "x\xef\xbf\xbd y\xef\xbf\xbd z\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");

  std::string overlong = "\xc0\xaf";
  sanitize_utf8(overlong);
  CHECK(overlong == "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_CASE("truncate_utf8 never splits a character") {
  std::string s = "ab\xe2\x82\xac";  // "ab€", 5 bytes
  std::string t = s;
  truncate_utf8(t, 4);
  CHECK(t == "ab");
  t = s;
  truncate_utf8(t, 5);
  CHECK(t == s);
  t = s;
  truncate_utf8(t, 2);
  CHECK(t == "ab");
  t = s;
  truncate_utf8(t, 0);
  CHECK(t.empty());
}
