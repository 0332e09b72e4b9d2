#include "redis/script.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace celeriac;

TEST_CASE("script computes the SHA1 Redis caches it under") {
  CHECK(redis::script{"return 1"}.sha1() == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  CHECK(redis::script{""}.sha1() == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(redis::script{"return 1"}.source() == "return 1");
}

TEST_CASE("script's SHA1 matches FIPS 180's test vectors, across block boundaries") {
  CHECK(redis::script{"abc"}.sha1() == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(redis::script{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"}.sha1() ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(redis::script{std::string(1'000'000, 'a')}.sha1() ==
        "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST_CASE("push_evalsha writes EVALSHA sha numkeys keys args") {
  const redis::script s{"return 1"};
  redis::request a;
  redis::push_evalsha(a, s, {"k1", "k2"}, {"arg"});
  CHECK(a.payload() ==
        "*6\r\n$7\r\nEVALSHA\r\n$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n"
        "$1\r\n2\r\n$2\r\nk1\r\n$2\r\nk2\r\n$3\r\narg\r\n");
  CHECK(a.expected_replies() == 1);

  redis::request b;
  redis::push_evalsha(b, s, std::vector<std::string>{"k1", "k2"}, std::vector<int>{});
  CHECK(b.payload().starts_with("*5\r\n$7\r\nEVALSHA\r\n"));

  redis::request c;
  redis::push_eval(c, s, std::vector<std::string>{}, std::vector<long>{7});
  CHECK(c.payload() == "*4\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n0\r\n$1\r\n7\r\n");
}

TEST_CASE("is_noscript recognises only the NOSCRIPT error") {
  CHECK(redis::is_noscript(
      resp::value::make_error("NOSCRIPT No matching script. Please use EVAL.")));
  CHECK_FALSE(redis::is_noscript(resp::value::make_error("ERR Error running script")));
  CHECK_FALSE(redis::is_noscript(resp::value::make_bulk("NOSCRIPT")));
}
