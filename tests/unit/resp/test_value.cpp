#include "resp/value.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace celeriac::resp;

TEST_CASE("as_string accepts bulk, simple and verbatim strings only") {
  CHECK(*value::make_bulk("abc").as_string() == "abc");
  CHECK(*value::make_simple("OK").as_string() == "OK");
  CHECK(*value::make_verbatim("txt", "hi").as_string() == "hi");
  CHECK(value::make_error("ERR x").as_string().error() == error::server_error);
  CHECK(value::make_nil().as_string().error() == error::nil_value);
  CHECK(value::make_integer(1).as_string().error() == error::wrong_type);
  CHECK(value::make_array({}).as_string().error() == error::wrong_type);
}

TEST_CASE("as_integer, as_double and as_boolean check the kind") {
  CHECK(*value::make_integer(-7).as_integer() == -7);
  CHECK(value::make_bulk("7").as_integer().error() == error::wrong_type);
  CHECK(value::make_nil().as_integer().error() == error::nil_value);
  CHECK(value::make_error("ERR").as_integer().error() == error::server_error);
  CHECK(*value::make_double(2.5).as_double() == 2.5);
  CHECK(*value::make_integer(3).as_double() == 3.0);
  CHECK(value::make_bulk("2.5").as_double().error() == error::wrong_type);
  CHECK(*value::make_boolean(true).as_boolean());
  CHECK(value::make_integer(1).as_boolean().error() == error::wrong_type);
}

TEST_CASE("elements covers every aggregate kind and refuses the rest") {
  auto arr = value::make_array({value::make_integer(1), value::make_bulk("x")});
  REQUIRE(arr.elements().has_value());
  CHECK(arr.elements()->size() == 2);
  CHECK(value::make_map({value::make_bulk("k"), value::make_bulk("v")}).elements()->size() == 2);
  CHECK(value::make_set({value::make_integer(1)}).elements()->size() == 1);
  CHECK(value::make_push({}).elements()->empty());
  CHECK(value::make_nil().elements().error() == error::nil_value);
  CHECK(value::make_error("ERR").elements().error() == error::server_error);
  CHECK(value::make_bulk("x").elements().error() == error::wrong_type);
}

TEST_CASE("strings can be moved out of a reply through mutable elements") {
  auto arr = value::make_array({value::make_bulk(std::string(100, 'p'))});
  std::string taken = (*arr.elements())[0].take_text();
  CHECK(taken.size() == 100);
  CHECK((*arr.elements())[0].text().empty());
}

TEST_CASE("error replies expose their message and first word") {
  auto v = value::make_error("NOSCRIPT No matching script. Please use EVAL.");
  CHECK(v.is_error());
  CHECK(v.error_kind() == "NOSCRIPT");
  CHECK(v.error_message() == "NOSCRIPT No matching script. Please use EVAL.");
  CHECK(value::make_error("ERR").error_kind() == "ERR");
  CHECK(value::make_bulk("ERR x").error_kind().empty());
  CHECK(value::make_bulk("ERR x").error_message().empty());
}

TEST_CASE("to_debug_string renders every kind on one line") {
  CHECK(value{}.to_debug_string() == "nil");
  CHECK(value::make_simple("OK").to_debug_string() == "+OK");
  CHECK(value::make_error("ERR x").to_debug_string() == "-ERR x");
  CHECK(value::make_integer(-3).to_debug_string() == ":-3");
  CHECK(value::make_bulk("a\"b\r\n\x01").to_debug_string() == R"("a\"b\r\n\x01")");
  CHECK(value::make_double(1.5).to_debug_string() == ",1.5");
  CHECK(value::make_boolean(false).to_debug_string() == "#f");
  CHECK(value::make_big_number("123").to_debug_string() == "(123");
  CHECK(value::make_verbatim("txt", "hi").to_debug_string() == R"(=txt:"hi")");
  CHECK(value::make_array({value::make_integer(1), value{}}).to_debug_string() == "[:1, nil]");
  CHECK(value::make_map({value::make_simple("k"), value::make_integer(1), value::make_simple("j"),
                         value::make_integer(2)})
            .to_debug_string() == "{+k: :1, +j: :2}");
  CHECK(value::make_set({value::make_integer(1)}).to_debug_string() == "~{:1}");
  CHECK(value::make_push({value::make_bulk("message")}).to_debug_string() ==
        R"(>["message"])");
  const auto long_text = value::make_bulk(std::string(1000, 'z')).to_debug_string();
  CHECK(long_text.size() < 300);
  CHECK(long_text.find("(1000 bytes)") != std::string::npos);
}

TEST_CASE("make_bulk keeps padding capacity") {
  auto v = value::make_bulk(std::string(50, 'x'));
  CHECK(v.text_capacity() >= 50 + value::bulk_padding);
}

TEST_CASE("kinds have names") {
  CHECK(to_string(kind::bulk_string) == "bulk_string");
  CHECK(to_string(kind::verbatim_string) == "verbatim_string");
}
