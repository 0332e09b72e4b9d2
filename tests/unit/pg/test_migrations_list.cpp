#include <doctest/doctest.h>

#include <string_view>

#include "pg/migrations.hpp"

using namespace celeriac::pg;

TEST_CASE("embedded migration sets are present, ordered and complete") {
  for (auto set : {engine_migrations(), app_migrations()}) {
    REQUIRE_FALSE(set.empty());
    int previous = 0;
    for (const auto& m : set) {
      CHECK(m.version > previous);
      previous = m.version;
      CHECK_FALSE(m.name.empty());
      CHECK_FALSE(m.sql.empty());
    }
  }
  CHECK(engine_migrations()[0].sql.find("CREATE TABLE IF NOT EXISTS celeriac_jobs") != std::string_view::npos);
  bool has_import_tables = false;
  for (const auto& m : engine_migrations()) {
    CHECK(m.sql.find("{{schema}}") == std::string_view::npos);
    if (m.sql.find("celeriac_import_checkpoints") != std::string_view::npos &&
        m.sql.find("celeriac_import_errors") != std::string_view::npos)
      has_import_tables = true;
  }
  CHECK(has_import_tables);
  for (const auto& m : app_migrations()) CHECK(m.sql.find("{{schema}}") != std::string_view::npos);
  CHECK(app_migrations()[0].sql.find("llm_mappings") != std::string_view::npos);
}
