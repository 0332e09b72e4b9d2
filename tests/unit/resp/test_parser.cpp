#include "resp/parser.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using celeriac::resp::error;
using celeriac::resp::kind;
using celeriac::resp::parser;
using celeriac::resp::value;

namespace {

// Feeds `bytes` in one go; fails the test on a parse error.
std::vector<value> parse_all(std::string_view bytes) {
  parser p;
  std::vector<value> out;
  boost::system::error_code ec;
  p.feed(bytes, out, ec);
  REQUIRE_MESSAGE(!ec, ec.message());
  CHECK(p.idle());
  return out;
}

// Feeds `bytes` whole and returns the error it produced.
boost::system::error_code parse_error(std::string_view bytes) {
  parser p;
  std::vector<value> out;
  boost::system::error_code ec;
  p.feed(bytes, out, ec);
  return ec;
}

value parse_one(std::string_view bytes) {
  auto values = parse_all(bytes);
  REQUIRE(values.size() == 1);
  return std::move(values.front());
}

// A stream with every type, nested aggregates and binary payloads.
const std::string mixed_stream =
    "+OK\r\n"
    "-ERR unknown command 'FOO'\r\n"
    ":-42\r\n"
    "$5\r\nhe\r\no\r\n"
    "$0\r\n\r\n"
    "$-1\r\n"
    "*-1\r\n"
    "*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n*0\r\n"
    "%2\r\n+k1\r\n:1\r\n+k2\r\n*1\r\n_\r\n"
    "~2\r\n+x\r\n+y\r\n"
    ",3.25\r\n"
    "#t\r\n"
    "(-12345678901234567890\r\n"
    "=15\r\ntxt:Some string\r\n"
    ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nbody\r\n"
    "!21\r\nSYNTAX invalid syntax\r\n"
    "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2\r\n:3\r\n"
    "_\r\n";

}  // namespace

TEST_CASE("parser reads every RESP2 type") {
  CHECK(parse_one("+OK\r\n") == value::make_simple("OK"));
  CHECK(parse_one("-ERR bad\r\n") == value::make_error("ERR bad"));
  CHECK(parse_one(":0\r\n") == value::make_integer(0));
  CHECK(parse_one(":-9223372036854775808\r\n") ==
        value::make_integer(std::numeric_limits<std::int64_t>::min()));
  CHECK(parse_one(":9223372036854775807\r\n") ==
        value::make_integer(std::numeric_limits<std::int64_t>::max()));
  CHECK(parse_one("$3\r\nabc\r\n") == value::make_bulk("abc"));
  CHECK(parse_one("$0\r\n\r\n") == value::make_bulk(""));
  CHECK(parse_one("$4\r\n\r\n\r\n\r\n") == value::make_bulk("\r\n\r\n"));
  CHECK(parse_one(std::string("$3\r\n\0\xff\n\r\n", 9)) ==
        value::make_bulk(std::string("\0\xff\n", 3)));
  CHECK(parse_one("$-1\r\n").is_nil());
  CHECK(parse_one("*-1\r\n").is_nil());
  CHECK(parse_one("*0\r\n") == value::make_array({}));
  CHECK(parse_one("*2\r\n$1\r\na\r\n*1\r\n:7\r\n") ==
        value::make_array({value::make_bulk("a"), value::make_array({value::make_integer(7)})}));
}

TEST_CASE("parser reads every RESP3 type") {
  CHECK(parse_one("_\r\n").is_nil());
  CHECK(parse_one("%1\r\n+k\r\n:1\r\n") ==
        value::make_map({value::make_simple("k"), value::make_integer(1)}));
  CHECK(parse_one("%0\r\n") == value::make_map({}));
  CHECK(parse_one("~2\r\n:1\r\n:2\r\n") ==
        value::make_set({value::make_integer(1), value::make_integer(2)}));
  CHECK(parse_one(">2\r\n+a\r\n+b\r\n") ==
        value::make_push({value::make_simple("a"), value::make_simple("b")}));
  CHECK(*parse_one(",1.5\r\n").as_double() == 1.5);
  CHECK(*parse_one(",-2e3\r\n").as_double() == -2000.0);
  CHECK(*parse_one(",10\r\n").as_double() == 10.0);
  CHECK(*parse_one(",inf\r\n").as_double() == std::numeric_limits<double>::infinity());
  CHECK(*parse_one(",-inf\r\n").as_double() == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(*parse_one(",nan\r\n").as_double()));
  CHECK(*parse_one("#t\r\n").as_boolean() == true);
  CHECK(*parse_one("#f\r\n").as_boolean() == false);
  auto big = parse_one("(3492890328409238509324850943850943825024385\r\n");
  CHECK(big.kind() == kind::big_number);
  CHECK(big.text() == "3492890328409238509324850943850943825024385");
  auto verbatim = parse_one("=15\r\ntxt:Some string\r\n");
  CHECK(verbatim.kind() == kind::verbatim_string);
  CHECK(verbatim.verbatim_format() == "txt");
  CHECK(*verbatim.as_string() == "Some string");
  auto blob_error = parse_one("!21\r\nSYNTAX invalid syntax\r\n");
  CHECK(blob_error.is_error());
  CHECK(blob_error.error_kind() == "SYNTAX");
}

TEST_CASE("parser drops RESP3 attributes, at top level and inside aggregates") {
  CHECK(parse_one("|1\r\n+ttl\r\n:3600\r\n:42\r\n") == value::make_integer(42));
  CHECK(parse_one("|0\r\n+x\r\n") == value::make_simple("x"));
  CHECK(parse_one("*2\r\n:1\r\n|1\r\n+a\r\n*1\r\n+deep\r\n:2\r\n") ==
        value::make_array({value::make_integer(1), value::make_integer(2)}));
}

TEST_CASE("parser returns one top-level value per call and advances the input") {
  parser p;
  std::string_view in = "+a\r\n:1\r\n$1\r\nx";
  boost::system::error_code ec;
  auto first = p.parse(in, ec);
  REQUIRE(first);
  CHECK(*first == value::make_simple("a"));
  CHECK(in == ":1\r\n$1\r\nx");
  auto second = p.parse(in, ec);
  REQUIRE(second);
  CHECK(*second == value::make_integer(1));
  CHECK_FALSE(p.parse(in, ec));
  CHECK(in.empty());
  CHECK_FALSE(p.idle());
  std::string_view rest = "\r\n";
  auto third = p.parse(rest, ec);
  REQUIRE(third);
  CHECK(*third == value::make_bulk("x"));
  CHECK(p.idle());
  CHECK(!ec);
}

TEST_CASE("parser gives the same values fed one byte at a time") {
  const auto whole = parse_all(mixed_stream);
  REQUIRE(whole.size() == 18);
  CHECK(whole[7].to_debug_string() == R"([:1, [+a, "b"], []])");
  CHECK(whole[16] == value::make_array({value::make_integer(2), value::make_integer(3)}));

  parser p;
  std::vector<value> out;
  boost::system::error_code ec;
  for (char c : mixed_stream) {
    p.feed(std::string_view{&c, 1}, out, ec);
    REQUIRE(!ec);
  }
  CHECK(p.idle());
  CHECK(out == whole);
}

TEST_CASE("parser gives the same values for a stream split at every offset") {
  const auto whole = parse_all(mixed_stream);
  for (std::size_t cut = 0; cut <= mixed_stream.size(); ++cut) {
    CAPTURE(cut);
    parser p;
    std::vector<value> out;
    boost::system::error_code ec;
    const std::string_view s = mixed_stream;
    p.feed(s.substr(0, cut), out, ec);
    REQUIRE(!ec);
    p.feed(s.substr(cut), out, ec);
    REQUIRE(!ec);
    CHECK(out == whole);
  }
}

TEST_CASE("parser keeps bulk_padding spare bytes behind every bulk string") {
  const std::string body(1000, 'j');
  const std::string wire = "$1000\r\n" + body + "\r\n";
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{500}, wire.size()}) {
    parser p;
    std::vector<value> out;
    boost::system::error_code ec;
    p.feed(std::string_view{wire}.substr(0, cut), out, ec);
    p.feed(std::string_view{wire}.substr(cut), out, ec);
    REQUIRE(out.size() == 1);
    CHECK(*out[0].as_string() == body);
    CHECK(out[0].text_capacity() >= body.size() + value::bulk_padding);
  }
}

TEST_CASE("parser rejects malformed input with a specific error") {
  CHECK(parse_error("?x\r\n") == error::invalid_type_byte);
  CHECK(parse_error("\r\n") == error::invalid_type_byte);
  CHECK(parse_error("+OK\n") == error::missing_crlf);
  CHECK(parse_error("$3\r\nabcX\r\n") == error::missing_crlf);
  CHECK(parse_error("$3\r\nabc\rX") == error::missing_crlf);
  CHECK(parse_error(":12a\r\n") == error::bad_integer);
  CHECK(parse_error(":\r\n") == error::bad_integer);
  CHECK(parse_error(":+1\r\n") == error::bad_integer);
  CHECK(parse_error(":99999999999999999999\r\n") == error::bad_integer);
  CHECK(parse_error("$x\r\n") == error::bad_integer);
  CHECK(parse_error("*1.5\r\n") == error::bad_integer);
  CHECK(parse_error("$-2\r\n") == error::bad_length);
  CHECK(parse_error("*-2\r\n") == error::bad_length);
  CHECK(parse_error("%-1\r\n") == error::bad_length);
  CHECK(parse_error("!-1\r\n") == error::bad_length);
  CHECK(parse_error(",\r\n") == error::bad_double);
  CHECK(parse_error(",1.5x\r\n") == error::bad_double);
  CHECK(parse_error("#x\r\n") == error::bad_boolean);
  CHECK(parse_error("#\r\n") == error::bad_boolean);
  CHECK(parse_error("(12a\r\n") == error::bad_big_number);
  CHECK(parse_error("(-\r\n") == error::bad_big_number);
  CHECK(parse_error("=3\r\ntxt\r\n") == error::bad_verbatim);
  CHECK(parse_error("=5\r\ntxt-x\r\n") == error::bad_verbatim);
  CHECK(parse_error("$?\r\n") == error::streamed_unsupported);
  CHECK(parse_error("*?\r\n") == error::streamed_unsupported);
}

TEST_CASE("parser refuses oversized values from their header alone") {
  CHECK(parse_error("$536870913\r\n") == error::bulk_too_large);
  CHECK(parse_error("$9223372036854775807\r\n") == error::bulk_too_large);
  CHECK(parse_error("*16777217\r\n") == error::aggregate_too_large);
  CHECK(parse_error("%16777217\r\n") == error::aggregate_too_large);
  // Within the limits the header alone is accepted: the value is pending.
  parser p;
  std::vector<value> out;
  boost::system::error_code ec;
  p.feed("$536870912\r\n*16777216\r\n", out, ec);
  CHECK(!ec);
  CHECK(out.empty());
}

TEST_CASE("parser refuses lines longer than max_line_size, whole or in pieces") {
  const std::string long_line = "+" + std::string(parser::max_line_size + 1, 'a') + "\r\n";
  CHECK(parse_error(long_line) == error::line_too_long);

  parser p;
  std::vector<value> out;
  boost::system::error_code ec;
  const std::string_view s = long_line;
  for (std::size_t at = 0; at < s.size() && !ec; at += 4096) p.feed(s.substr(at, 4096), out, ec);
  CHECK(ec == error::line_too_long);

  const std::string longest = "+" + std::string(parser::max_line_size - 1, 'a') + "\r\n";
  CHECK(parse_one(longest).text().size() == parser::max_line_size - 1);
}

TEST_CASE("parser bounds nesting depth") {
  std::string ok;
  for (std::size_t i = 0; i < parser::max_depth; ++i) ok += "*1\r\n";
  ok += ":1\r\n";
  CHECK(parse_all(ok).size() == 1);

  std::string deep;
  for (std::size_t i = 0; i <= parser::max_depth; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  CHECK(parse_error(deep) == error::nesting_too_deep);
}

TEST_CASE("parser failure is sticky until reset") {
  parser p;
  std::vector<value> out;
  boost::system::error_code ec;
  p.feed("+OK\r\n?bad\r\n+after\r\n", out, ec);
  CHECK(ec == error::invalid_type_byte);
  CHECK(out.size() == 1);
  ec.clear();
  p.feed("+OK\r\n", out, ec);
  CHECK(ec == error::invalid_type_byte);
  CHECK(out.size() == 1);
  p.reset();
  ec.clear();
  p.feed("+OK\r\n", out, ec);
  CHECK(!ec);
  CHECK(out.size() == 2);
}

TEST_CASE("parser errors have a category and a message per value") {
  boost::system::error_code ec = error::nesting_too_deep;
  CHECK(std::string_view{ec.category().name()} == "celeriac.resp");
  CHECK(ec.message().find("nested") != std::string::npos);
  for (int e = static_cast<int>(error::invalid_type_byte); e <= static_cast<int>(error::wrong_type);
       ++e) {
    boost::system::error_code code = static_cast<error>(e);
    CHECK(code.message().find("unknown celeriac.resp error") == std::string::npos);
  }
}
