#include <doctest/doctest.h>

#include <set>

#include "util/uuid.hpp"

using namespace celeriac::util;

TEST_CASE("uuid4 has the canonical version-4 form and does not repeat") {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto u = uuid4();
    REQUIRE(is_uuid(u));
    CHECK(u[14] == '4');
    CHECK((u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b'));
    CHECK(seen.insert(u).second);
  }
}

TEST_CASE("is_uuid rejects near misses") {
  CHECK(is_uuid("3b2f0a6e-8a55-4c31-9d7e-2f1e8f1b9c00"));
  CHECK_FALSE(is_uuid("3b2f0a6e-8a55-4c31-9d7e-2f1e8f1b9c0"));
  CHECK_FALSE(is_uuid("3b2f0a6e08a55-4c31-9d7e-2f1e8f1b9c00"));
  CHECK_FALSE(is_uuid("3b2f0a6e-8a55-4c31-9d7e-2f1e8f1b9c0g"));
}
