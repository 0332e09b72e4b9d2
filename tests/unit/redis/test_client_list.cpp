#include <doctest/doctest.h>

#include "redis/client_list.hpp"

using celeriac::redis::client_ids_named;

namespace {

// As Redis 7.0 writes it (fields abridged), "\n" after each line.
constexpr std::string_view sample =
    "id=3 addr=127.0.0.1:40000 laddr=127.0.0.1:6390 fd=8 name=celeriac-child:w@h:41 age=9 cmd=blmove\n"
    "id=4 addr=127.0.0.1:40002 laddr=127.0.0.1:6390 fd=9 name= age=9 cmd=client|list\n"
    "id=17 addr=127.0.0.1:40004 laddr=127.0.0.1:6390 fd=10 name=celeriac-child:w@h:41 age=2 cmd=evalsha\n"
    "id=18 addr=127.0.0.1:40006 laddr=127.0.0.1:6390 fd=11 name=celeriac-child:w@h:410 age=2 cmd=evalsha\n";

}  // namespace

TEST_CASE("client_ids_named: every connection with exactly that name, in order") {
  CHECK(client_ids_named(sample, "celeriac-child:w@h:41") == std::vector<std::int64_t>{3, 17});
  CHECK(client_ids_named(sample, "celeriac-child:w@h:410") == std::vector<std::int64_t>{18});
  CHECK(client_ids_named(sample, "celeriac-child:w@h:4").empty());
}

TEST_CASE("client_ids_named: an empty name matches unnamed connections only when asked; odd lines are skipped") {
  CHECK(client_ids_named(sample, "") == std::vector<std::int64_t>{4});
  CHECK(client_ids_named("", "x").empty());
  CHECK(client_ids_named("name=x\n", "x").empty());            // no id
  CHECK(client_ids_named("id=12a name=x\n", "x").empty());     // unreadable id
  CHECK(client_ids_named("id=5 name=x\r\nid=6 name=x", "x") == std::vector<std::int64_t>{5, 6});  // CRLF, no final newline
  CHECK(client_ids_named("id=5 xname=x\n", "x").empty());      // another field ending in "name"
}
