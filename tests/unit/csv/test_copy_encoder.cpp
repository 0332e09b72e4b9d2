#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "csv/copy_encoder.hpp"

using namespace celeriac::csv;

namespace {

std::string hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (!out.empty()) out += ' ';
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("copy: header and trailer") {
  copy_encoder e;
  e.write_header();
  CHECK(hex(e.bytes()) == "50 47 43 4f 50 59 0a ff 0d 0a 00 00 00 00 00 00 00 00 00");
  CHECK(e.size() == 19);
  e.clear();
  e.write_trailer();
  CHECK(hex(e.bytes()) == "ff ff");
}

TEST_CASE("copy: one tuple of every type, byte for byte") {
  copy_encoder e;
  const std::vector<value> row = {
      std::string_view("h\xC3\xA9"),  // text: raw UTF-8
      std::monostate{},               // NULL
      std::int64_t{1},
      std::int64_t{-2},
      0.5,
      -1.0,
      true,
      false,
      timestamptz{1'000'000},
      timestamptz{-1},
      std::string_view(""),  // empty text is not NULL
  };
  e.write_row(row);
  CHECK(hex(e.bytes()) ==
        "00 0b "                                // 11 fields
        "00 00 00 03 68 c3 a9 "                 // 'hé'
        "ff ff ff ff "                          // NULL
        "00 00 00 08 00 00 00 00 00 00 00 01 "  // 1
        "00 00 00 08 ff ff ff ff ff ff ff fe "  // -2
        "00 00 00 08 3f e0 00 00 00 00 00 00 "  // 0.5
        "00 00 00 08 bf f0 00 00 00 00 00 00 "  // -1.0
        "00 00 00 01 01 "                       // true
        "00 00 00 01 00 "                       // false
        "00 00 00 08 00 00 00 00 00 0f 42 40 "  // 2000-01-01T00:00:01Z
        "00 00 00 08 ff ff ff ff ff ff ff ff "  // 1999-12-31T23:59:59.999999Z
        "00 00 00 00");                         // ''
}

TEST_CASE("copy: a whole stream, and clear() between sends") {
  copy_encoder e;
  e.write_header();
  const std::vector<value> row = {std::int64_t{7}};
  e.write_row(row);
  e.write_trailer();
  CHECK(hex(e.bytes()) ==
        "50 47 43 4f 50 59 0a ff 0d 0a 00 00 00 00 00 00 00 00 00 "
        "00 01 00 00 00 08 00 00 00 00 00 00 00 07 "
        "ff ff");
  e.clear();
  CHECK(e.size() == 0);
  e.write_row(row);
  CHECK(e.size() == 14);
}

TEST_CASE("copy: the buffer grows across many rows and keeps them intact") {
  copy_encoder e;
  const std::string big(100'000, 'x');
  for (int i = 0; i < 50; ++i) {
    const std::vector<value> row = {std::int64_t{i}, std::string_view(big)};
    e.write_row(row);
  }
  const std::size_t per_row = 2 + 12 + 4 + big.size();
  REQUIRE(e.size() == 50 * per_row);
  const std::string_view last = e.bytes().substr(49 * per_row);
  CHECK(hex(last.substr(0, 14)) == "00 02 00 00 00 08 00 00 00 00 00 00 00 31");
  CHECK(last.substr(18) == big);
}
