#include <doctest/doctest.h>

#include <string>

#include "csv/utf8.hpp"

using celeriac::csv::count_code_points;
using celeriac::csv::find_invalid_utf8;

constexpr auto npos = std::string_view::npos;

TEST_CASE("utf8: valid text, long and short") {
  CHECK(find_invalid_utf8("") == npos);
  CHECK(find_invalid_utf8("plain ascii") == npos);
  CHECK(find_invalid_utf8(std::string(1000, 'a') + "Café 東京 🍕 Пекарня" + std::string(33, 'b')) == npos);
  CHECK(find_invalid_utf8("\xF4\x8F\xBF\xBF") == npos);  // U+10FFFF
  CHECK(find_invalid_utf8("\xED\x9F\xBF") == npos);      // U+D7FF, just below the surrogates
}

TEST_CASE("utf8: each kind of invalid sequence, at its first byte") {
  const std::string pad(20, 'a');                            // past the 16-byte ASCII skip
  CHECK(find_invalid_utf8(pad + "\xE9t\xC3\xA9") == 20);     // Latin-1
  CHECK(find_invalid_utf8(pad + "\xC0\xAF") == 20);          // overlong '/'
  CHECK(find_invalid_utf8(pad + "\xE0\x80\xAF") == 20);      // overlong, 3 bytes
  CHECK(find_invalid_utf8(pad + "\xF0\x80\x80\xAF") == 20);  // overlong, 4 bytes
  CHECK(find_invalid_utf8(pad + "\xED\xA0\x80") == 20);      // surrogate D800
  CHECK(find_invalid_utf8(pad + "\xF4\x90\x80\x80") == 20);  // above U+10FFFF
  CHECK(find_invalid_utf8(pad + "\xF5\x80\x80\x80") == 20);  // never a lead byte
  CHECK(find_invalid_utf8(pad + "\x80") == 20);              // lone continuation
  CHECK(find_invalid_utf8(pad + "ok\xE2\x82") == 22);        // truncated at the end
  CHECK(find_invalid_utf8("\xC3\xA9\xE2\x82x") == 2);        // truncated before ASCII
}

TEST_CASE("utf8: code points") {
  CHECK(count_code_points("") == 0);
  CHECK(count_code_points("abc") == 3);
  CHECK(count_code_points("Café") == 4);
  CHECK(count_code_points("東京🍕") == 3);
}
