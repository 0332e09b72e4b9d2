#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "json/dump.hpp"
#include "json/parse.hpp"

using namespace celeriac::json;

static std::string repr(double d) {
  std::string s;
  dump_double_to(s, d);
  return s;
}

TEST_CASE("floats are written as Python's repr writes them") {
  CHECK(repr(1.0) == "1.0");
  CHECK(repr(-2.5) == "-2.5");
  CHECK(repr(0.1) == "0.1");
  CHECK(repr(123456789.0) == "123456789.0");
  CHECK(repr(1e16) == "1e+16");
  CHECK(repr(1.5e16) == "1.5e+16");
  CHECK(repr(9999999999999998.0) == "9999999999999998.0");
  CHECK(repr(0.0001) == "0.0001");
  CHECK(repr(1e-05) == "1e-05");
  CHECK(repr(1.5e-7) == "1.5e-07");
  CHECK(repr(0.0) == "0.0");
  CHECK(repr(1e300) == "1e+300");
  CHECK(repr(std::numeric_limits<double>::infinity()) == "Infinity");
  CHECK(repr(-std::numeric_limits<double>::infinity()) == "-Infinity");
  CHECK(repr(std::nan("")) == "NaN");
}

TEST_CASE("strings are escaped as json.dumps(ensure_ascii=True) does") {
  CHECK(dump(value("plain")) == "\"plain\"");
  CHECK(dump(value("q\"b\\s/\n\t\x01")) == "\"q\\\"b\\\\s/\\n\\t\\u0001\"");
  CHECK(dump(value("caf\xC3\xA9")) == "\"caf\\u00e9\"");
  CHECK(dump(value("del\x7F")) == "\"del\\u007f\"");  // json.dumps escapes all but space..~
  CHECK(dump(value("\xF0\x9F\x98\x80")) == "\"\\ud83d\\ude00\"");  // emoji → surrogate pair
  CHECK(dump(value("bad\xFFutf8")) == "\"bad\\ufffdutf8\"");
}

TEST_CASE("containers use Python's default separators, or compact ones") {
  object o{{"a", value(1)}, {"b", value(array{value(true), value(nullptr), value(2.0)})}};
  CHECK(dump(value(o)) == "{\"a\": 1, \"b\": [true, null, 2.0]}");
  CHECK(dump(value(o), style::compact) == "{\"a\":1,\"b\":[true,null,2.0]}");
  CHECK(dump(value(array{})) == "[]");
  CHECK(dump(value(object{})) == "{}");
}

TEST_CASE("parse builds an ordered tree and round-trips") {
  auto text = std::string("{\"z\": 1, \"a\": [1, 2.5, \"x\", null, false], \"n\": {\"k\": -7}}");
  auto v = parse(text);
  REQUIRE(v);
  CHECK(v->as_object().front().first == "z");
  CHECK(v->find("a")->as_array()[1].as_double() == 2.5);
  CHECK(v->find("n")->find("k")->as_integer() == -7);
  CHECK(v->find("missing") == nullptr);
  CHECK(dump(*v) == text);
}

TEST_CASE("parse keeps unicode and huge integers sensibly") {
  auto v = parse("[\"caf\\u00e9\", 18446744073709551615, 12345678901234]");
  REQUIRE(v);
  CHECK(v->as_array()[0].as_string() == "caf\xC3\xA9");
  CHECK(v->as_array()[1].is_double());
  CHECK(v->as_array()[2].as_integer() == 12345678901234LL);
}

TEST_CASE("parse rejects malformed documents with a message") {
  for (auto bad : {"", "{", "[1,]", "{\"a\" 1}", "nul", "\"unterminated", "[1] trailing"}) {
    auto v = parse(bad);
    CHECK_FALSE(v);
    if (!v) CHECK(v.error().message.find("invalid JSON") == 0);
  }
}

TEST_CASE("set replaces in place and appends new keys") {
  value v;
  v.set("a", 1);
  v.set("b", 2);
  v.set("a", 3);
  CHECK(dump(v) == "{\"a\": 3, \"b\": 2}");
}
