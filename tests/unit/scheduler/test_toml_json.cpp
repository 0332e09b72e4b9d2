// TOML → JSON text as Python's json.dumps writes it with its defaults.

#include <doctest/doctest.h>

#include <string>

#include <toml++/toml.h>

#include "scheduler/toml_json.hpp"

using celeriac::scheduler::append_json_string;
using celeriac::scheduler::toml_to_json;

namespace {

// The JSON text of the value of `v = ...` in `doc`.
std::string json_of(std::string_view doc) {
  auto t = toml::parse(doc, std::string_view{"test.toml"});
  auto r = toml_to_json(*t.get("v"), "v");
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().message));
  return *r;
}

std::string error_of(std::string_view doc) {
  auto t = toml::parse(doc, std::string_view{"test.toml"});
  auto r = toml_to_json(*t.get("v"), "v");
  REQUIRE(!r.has_value());
  return r.error().message;
}

std::string quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace

TEST_CASE("scalars") {
  CHECK(json_of("v = 42") == "42");
  CHECK(json_of("v = -7") == "-7");
  CHECK(json_of("v = 9223372036854775807") == "9223372036854775807");
  CHECK(json_of("v = true") == "true");
  CHECK(json_of("v = false") == "false");
  CHECK(json_of("v = \"hi\"") == "\"hi\"");
}

TEST_CASE("floats in Python repr form") {
  CHECK(json_of("v = 1.0") == "1.0");
  CHECK(json_of("v = 2.5") == "2.5");
  CHECK(json_of("v = 0.1") == "0.1");
  CHECK(json_of("v = 1e16") == "1e+16");
  CHECK(json_of("v = 1e15") == "1000000000000000.0");
  CHECK(json_of("v = 1e-5") == "1e-05");
  CHECK(json_of("v = 0.0001") == "0.0001");
  CHECK(json_of("v = -0.0") == "-0.0");
  CHECK(json_of("v = 100.0") == "100.0");
}

TEST_CASE("arrays and tables use json.dumps separators") {
  CHECK(json_of("v = [2, 3]") == "[2, 3]");
  CHECK(json_of("v = []") == "[]");
  CHECK(json_of("v = [1, \"a\", [true, 1.5], {x = 1}]") == "[1, \"a\", [true, 1.5], {\"x\": 1}]");
  CHECK(json_of("v = { view = \"merchant_stats\" }") == "{\"view\": \"merchant_stats\"}");
  CHECK(json_of("v = {}") == "{}");
  // toml++ keeps keys sorted.
  CHECK(json_of("v = { b = 1, a = { d = [], c = 2 } }") == "{\"a\": {\"c\": 2, \"d\": []}, \"b\": 1}");
  CHECK(json_of("[v]\nlimit = 10\n\"odd key\" = \"x\"\n") == "{\"limit\": 10, \"odd key\": \"x\"}");
}

TEST_CASE("strings are escaped as ensure_ascii does") {
  CHECK(quoted("plain") == "\"plain\"");
  CHECK(quoted("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(quoted("\n\r\t\b\f") == "\"\\n\\r\\t\\b\\f\"");
  CHECK(quoted(std::string_view("\x01\x1f\x7f", 3)) == "\"\\u0001\\u001f\\u007f\"");
  CHECK(quoted("caf\xc3\xa9") == "\"caf\\u00e9\"");           // é
  CHECK(quoted("\xe2\x82\xac") == "\"\\u20ac\"");              // €
  CHECK(quoted("\xf0\x9f\x98\x80") == "\"\\ud83d\\ude00\"");   // 😀, a surrogate pair
  CHECK(quoted("/") == "\"/\"");
  CHECK(quoted("\xff") == "\"\\ufffd\"");                       // not UTF-8: replaced, never passed through
  CHECK(quoted("\xe2\x82") == "\"\\ufffd\\ufffd\"");            // truncated sequence
  CHECK(json_of("v = \"Z\\u00fcrich \\U0001F600\"") == "\"Z\\u00fcrich \\ud83d\\ude00\"");
}

TEST_CASE("values with no JSON form are refused, naming the path") {
  CHECK(error_of("v = [1, inf]") == "v[1]: inf has no JSON form; use a finite number or a string");
  CHECK(error_of("v = { a = nan }").find("v.a: nan has no JSON form") == 0);
  CHECK(error_of("v = [1979-05-27]") == "v[0]: TOML dates and times have no JSON form; quote the value as a string");
  CHECK(error_of("v = { at = 07:32:00 }").find("v.at: TOML dates and times") == 0);
}
