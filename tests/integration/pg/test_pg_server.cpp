#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include "support/pg_server.hpp"

using celeriac::test::pg_server;

namespace {

int backend_count(const std::string& url) {
  pqxx::connection c{url};
  pqxx::work tx{c};
  return tx.exec1("SELECT 1")[0].as<int>();
}

}  // namespace

TEST_CASE("pg_server starts, stops, restarts with its data, and survives kill -9" * doctest::test_suite("integration")) {
  pg_server server;
  CHECK(server.running());
  CHECK(server.url().starts_with("postgresql://postgres@127.0.0.1:"));
  {
    pqxx::connection c{server.url()};
    pqxx::work tx{c};
    tx.exec("CREATE TABLE kept (v int)");
    tx.exec("INSERT INTO kept VALUES (7)");
    tx.commit();
  }
  const auto port = server.port();
  server.stop();
  CHECK_FALSE(server.running());
  CHECK_THROWS_AS(backend_count(server.url()), pqxx::broken_connection);
  server.restart();
  CHECK(server.port() == port);
  {
    pqxx::connection c{server.url()};
    pqxx::work tx{c};
    CHECK(tx.exec1("SELECT v FROM kept")[0].as<int>() == 7);
  }
  pqxx::connection held{server.url()};  // a backend the crash must take down too
  server.kill9();
  CHECK_FALSE(server.running());
  server.restart();  // crash recovery
  CHECK(backend_count(server.url()) == 1);
  const auto dir = server.dir();
  CHECK(std::filesystem::exists(dir));
}
