#include <doctest/doctest.h>

#include "tasks/llm/utf8_text.hpp"

using namespace celeriac::tasks::llm;

TEST_CASE("utf8_sequence_length: RFC 3629 only") {
  CHECK(utf8_sequence_length("a", 0) == 1);
  CHECK(utf8_sequence_length("\xC3\xA9", 0) == 2);
  CHECK(utf8_sequence_length("\xE2\x82\xAC", 0) == 3);
  CHECK(utf8_sequence_length("\xF0\x9F\x8D\x95", 0) == 4);
  CHECK(utf8_sequence_length("\xF4\x8F\xBF\xBF", 0) == 4);  // U+10FFFF
  CHECK(utf8_sequence_length("\xC0\xAF", 0) == 0);          // overlong '/'
  CHECK(utf8_sequence_length("\xC1\xBF", 0) == 0);
  CHECK(utf8_sequence_length("\xE0\x9F\xBF", 0) == 0);      // overlong
  CHECK(utf8_sequence_length("\xED\xA0\x80", 0) == 0);      // surrogate
  CHECK(utf8_sequence_length("\xF0\x8F\xBF\xBF", 0) == 0);  // overlong
  CHECK(utf8_sequence_length("\xF4\x90\x80\x80", 0) == 0);  // above U+10FFFF
  CHECK(utf8_sequence_length("\xF5\x80\x80\x80", 0) == 0);
  CHECK(utf8_sequence_length("\x80", 0) == 0);
  CHECK(utf8_sequence_length("\xE2\x82", 0) == 0);          // truncated
  CHECK(utf8_sequence_length("\xE2\x28\xA1", 0) == 0);
}

TEST_CASE("printable_excerpt") {
  CHECK(printable_excerpt("  a\r\n\tb  ", 100) == "a b");
  CHECK(printable_excerpt("a\x01\x7f" "b", 100) == "a b");
  CHECK(printable_excerpt("x\xFFy", 100) == "x\xEF\xBF\xBDy");
  CHECK(printable_excerpt("abcdef", 3) == "abc...");
  CHECK(printable_excerpt("abc   ", 3) == "abc");
  CHECK(printable_excerpt("ab\xC3\xA9", 3) == "ab...");
  CHECK(printable_excerpt("", 3) == "");
}
