#include "resp/parser.hpp"
#include "resp/serializer.hpp"

#include <doctest/doctest.h>

#include <array>
#include <list>
#include <string>
#include <vector>

using namespace celeriac::resp;

TEST_CASE("append_command writes golden bytes") {
  std::string out;
  append_command(out, {"SET", "key", "value"});
  CHECK(out == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  append_command(out, {"PING"});
  CHECK(out == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\n");
}

TEST_CASE("append_command is binary safe and handles empty arguments") {
  std::string out;
  append_command(out, {"SET", "", std::string_view("a\r\n\0b", 5)});
  CHECK(out == std::string("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$5\r\na\r\n\0b\r\n", 30));
}

TEST_CASE("append_command takes any forward range of strings") {
  std::string from_vector;
  append_command(from_vector, std::vector<std::string>{"RPUSH", "q", "a", "b"});
  std::string from_list;
  append_command(from_list, std::list<const char*>{"RPUSH", "q", "a", "b"});
  std::string from_init;
  append_command(from_init, {"RPUSH", "q", "a", "b"});
  CHECK(from_vector == from_init);
  CHECK(from_list == from_init);
  CHECK(from_init == "*4\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\nb\r\n");
}

TEST_CASE("low-level pieces compose into a command and large lengths are exact") {
  std::string out;
  append_array_header(out, 2);
  append_bulk(out, "GET");
  append_bulk(out, std::string(12345, 'x'));
  CHECK(out.starts_with("*2\r\n$3\r\nGET\r\n$12345\r\n"));
  CHECK(out.size() == 4 + 9 + 8 + 12345 + 2);
}

TEST_CASE("serialized commands parse back as arrays of bulk strings") {
  std::string out;
  append_command(out, {"HSET", "h", "f", "v"});
  parser p;
  std::vector<value> values;
  boost::system::error_code ec;
  p.feed(out, values, ec);
  REQUIRE(values.size() == 1);
  CHECK(values[0] == value::make_array({value::make_bulk("HSET"), value::make_bulk("h"),
                                        value::make_bulk("f"), value::make_bulk("v")}));
}
