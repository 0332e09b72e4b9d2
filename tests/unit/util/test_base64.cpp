#include <doctest/doctest.h>

#include "util/base64.hpp"

using namespace celeriac::util;

TEST_CASE("base64 round-trips every length and byte value") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); ++n) {
    auto enc = base64_encode(all.substr(0, n));
    CHECK(enc.size() % 4 == 0);
    auto dec = base64_decode(enc);
    REQUIRE(dec);
    CHECK(*dec == all.substr(0, n));
  }
}

TEST_CASE("base64 matches Python's b64encode on a Celery body") {
  CHECK(base64_encode("[[2, 3], {}, {\"callbacks\": null, \"errbacks\": null, \"chain\": null, \"chord\": null}]") ==
        "W1syLCAzXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d");
  CHECK(base64_encode("a") == "YQ==");
  CHECK(base64_encode("ab") == "YWI=");
}

TEST_CASE("base64 rejects malformed input") {
  CHECK_FALSE(base64_decode("abc"));     // length
  CHECK_FALSE(base64_decode("ab!d"));    // alphabet
  CHECK_FALSE(base64_decode("a==="));    // too much padding
  CHECK_FALSE(base64_decode("ab=d"));    // padding inside
  CHECK_FALSE(base64_decode("YQ==YQ==")); // padding before the end
  CHECK(base64_decode("")->empty());
}
