#include <doctest/doctest.h>

#include "app/task_error.hpp"
#include "tasks/csv_import/import_request.hpp"
#include "tasks/csv_import/import_sql.hpp"

using namespace celeriac;
using tasks::parse_import_request;

namespace {

app::task_resources allow(std::vector<std::string> tables) {
  app::task_resources r;
  r.import_tables = std::move(tables);
  return r;
}

std::string error_of(const json::object& kwargs, const app::task_resources& res = {}) {
  try {
    parse_import_request({}, kwargs, res);
  } catch (const app::task_error& e) {
    return e.exc_type() + ": " + e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a named profile with defaults") {
  auto r = parse_import_request({}, {{"path", "a.csv"}, {"profile", "llm_mappings"}}, {});
  CHECK(r.path == "a.csv");
  CHECK(r.profile.name == "llm_mappings");
  CHECK(r.table_parts == std::vector<std::string>{"llm_mappings"});
  CHECK(r.mode == tasks::import_mode::insert);
  CHECK(r.chunk_rows == 10'000);
  CHECK(r.max_errors == 1'000);
  CHECK(r.delimiter == ',');
  CHECK(r.header);
  CHECK_FALSE(r.explicit_columns);
}

TEST_CASE("every argument, positionally and by keyword; null means omitted") {
  auto r = parse_import_request({"b.csv", "llm_mappings"},
                                {{"mode", "upsert"}, {"chunk_rows", 500}, {"max_errors", 0}, {"delimiter", ";"},
                                 {"header", false}, {"columns", nullptr}},
                                {});
  CHECK(r.mode == tasks::import_mode::upsert);
  CHECK(r.profile.key_columns == std::vector<std::string>{"merchant_name"});
  CHECK(r.chunk_rows == 500);
  CHECK(r.max_errors == 0);
  CHECK(r.delimiter == ';');
  CHECK_FALSE(r.header);
}

TEST_CASE("an explicit column spec needs its table on the allow-list") {
  json::object kw{{"path", "t.csv"}, {"columns", "name:text!,qty:integer"}, {"table", "app.things"}};
  CHECK(error_of(kw).find("PermissionError: celeriac.csv_import: table 'app.things' is not on this worker's "
                          "--import-tables allow-list") == 0);
  CHECK(error_of(kw, allow({"things"})).find("PermissionError") == 0);  // exact match only
  auto r = parse_import_request({}, kw, allow({"app.things"}));
  CHECK(r.explicit_columns);
  CHECK(r.table_parts == std::vector<std::string>{"app", "things"});
  CHECK(r.profile.columns.size() == 2);
  CHECK(r.profile.name.empty());
}

TEST_CASE("upsert keys for an explicit spec: given, existing, not null") {
  const auto res = allow({"things"});
  json::object kw{{"path", "t.csv"}, {"columns", "name:text!,qty:integer"}, {"table", "things"}, {"mode", "upsert"}};
  CHECK(error_of(kw, res).find("needs key columns") != std::string::npos);
  kw.emplace_back("key", "qty");
  CHECK(error_of(kw, res).find("key column 'qty' must be declared not null") != std::string::npos);
  kw.back().second = json::array{"name"};
  CHECK(parse_import_request({}, kw, res).profile.key_columns == std::vector<std::string>{"name"});
  kw.back().second = "nope";
  CHECK(error_of(kw, res).find("key column 'nope' is not one of the file's columns") != std::string::npos);
}

TEST_CASE("refusals name the argument and what is allowed") {
  CHECK(error_of({{"path", "a.csv"}}).find("say what the file holds: profile (one of: llm_mappings)") !=
        std::string::npos);
  CHECK(error_of({{"path", "a.csv"}, {"profile", "nope"}}).find("unknown import profile 'nope'") != std::string::npos);
  CHECK(error_of({{"path", "a.csv"}, {"profile", "llm_mappings"}, {"table", "x"}}).find("not both") !=
        std::string::npos);
  CHECK(error_of({{"path", "a.csv"}, {"profile", "llm_mappings"}, {"mode", "merge"}})
            .find("mode must be 'insert' or 'upsert', not 'merge'") != std::string::npos);
  CHECK(error_of({{"path", "a.csv"}, {"profile", "llm_mappings"}, {"chunk_rows", 0}})
            .find("chunk_rows must be between 1 and 1000000") != std::string::npos);
  CHECK(error_of({{"path", "a.csv"}, {"profile", "llm_mappings"}, {"max_errors", -1}}).find("cannot be negative") !=
        std::string::npos);
  CHECK(error_of({{"path", "a.csv"}, {"profile", "llm_mappings"}, {"delimiter", "\""}}).find("delimiter must be") !=
        std::string::npos);
  CHECK(error_of({{"path", ""}, {"profile", "llm_mappings"}}).find("path is empty") != std::string::npos);
  CHECK(error_of({{"path", "a.csv"}, {"columns", "x:blob"}, {"table", "t"}}, allow({"t"})).find("bad columns") !=
        std::string::npos);
  CHECK(error_of({{"path", "a.csv"}, {"columns", "x:text"}, {"table", "t;drop"}}, allow({"t;drop"}))
            .find("is not a valid table name") != std::string::npos);
  // Type errors are TypeError (argument_error: the worker dead-letters them).
  CHECK_THROWS_AS(parse_import_request({}, {{"path", 3}, {"profile", "llm_mappings"}}, {}), app::argument_error);
  CHECK_THROWS_AS(parse_import_request({}, {{"path", "a"}, {"profile", "llm_mappings"}, {"header", "yes"}}, {}),
                  app::argument_error);
  CHECK_THROWS_AS(parse_import_request({}, {{"path", "a"}, {"profile", "llm_mappings"}, {"bogus", 1}}, {}),
                  app::argument_error);
  CHECK_THROWS_AS(parse_import_request({}, {{"profile", "llm_mappings"}}, {}), app::argument_error);
}

TEST_CASE("the SQL: quoted identifiers, binary COPY, staged upsert with last row winning") {
  auto insert = tasks::build_import_sql(parse_import_request({}, {{"path", "a"}, {"profile", "llm_mappings"}}, {}));
  CHECK(insert.table == "\"llm_mappings\"");
  CHECK(insert.copy_rows ==
        "COPY \"llm_mappings\" (\"merchant_name\", \"category\", \"ticker\", \"confidence\", \"user_id\", "
        "\"created_at\") FROM STDIN (FORMAT binary)");
  CHECK(insert.apply_stage.empty());

  auto upsert = tasks::build_import_sql(parse_import_request(
      {}, {{"path", "a"}, {"columns", "k:text!,v:integer"}, {"table", "s.t"}, {"key", "k"}, {"mode", "upsert"}},
      allow({"s.t"})));
  CHECK(upsert.table == "\"s\".\"t\"");
  CHECK(upsert.table_text == "s.t");
  CHECK(upsert.copy_rows ==
        "COPY pg_temp.\"celeriac_import_stage\" (\"k\", \"v\", \"celeriac_ord\") FROM STDIN (FORMAT binary)");
  CHECK(upsert.apply_stage ==
        "WITH moved AS (DELETE FROM pg_temp.\"celeriac_import_stage\" RETURNING *) INSERT INTO \"s\".\"t\" (\"k\", "
        "\"v\") SELECT DISTINCT ON (\"k\") \"k\", \"v\" FROM moved ORDER BY \"k\", \"celeriac_ord\" DESC ON "
        "CONFLICT (\"k\") DO UPDATE SET \"v\" = EXCLUDED.\"v\"");
}

TEST_CASE("parallel: the machine's cores at most 4 by default, 1 to 16 when given, one part for an upsert") {
  const auto defaulted = parse_import_request({}, {{"path", "a.csv"}, {"profile", "llm_mappings"}}, {});
  CHECK(defaulted.parallel == tasks::default_parallel());
  CHECK(tasks::default_parallel() >= 1);
  CHECK(tasks::default_parallel() <= 4);
  for (int n : {1, 2, 4, 16}) {
    CAPTURE(n);
    CHECK(parse_import_request({}, {{"path", "a.csv"}, {"profile", "llm_mappings"}, {"parallel", n}}, {}).parallel ==
          static_cast<std::size_t>(n));
  }
  CHECK(error_of({{"path", "a.csv"}, {"profile", "llm_mappings"}, {"parallel", 0}}) ==
        "ValueError: celeriac.csv_import: parallel must be between 1 and 16, not 0");
  CHECK(error_of({{"path", "a.csv"}, {"profile", "llm_mappings"}, {"parallel", 17}}).find("ValueError") == 0);
  CHECK_THROWS_AS(parse_import_request({}, {{"path", "a"}, {"profile", "llm_mappings"}, {"parallel", "2"}}, {}),
                  app::argument_error);
  // The 11th positional argument.
  CHECK(parse_import_request({"b.csv", "llm_mappings", nullptr, nullptr, nullptr, "insert", 10, 0, ",", true, 3}, {},
                             {})
            .parallel == 3);
  const auto upsert =
      parse_import_request({}, {{"path", "a.csv"}, {"profile", "llm_mappings"}, {"mode", "upsert"}}, {});
  CHECK(upsert.parallel == 1);
  CHECK(parse_import_request({}, {{"path", "a"}, {"profile", "llm_mappings"}, {"mode", "upsert"}, {"parallel", 1}}, {})
            .parallel == 1);
  CHECK(error_of({{"path", "a.csv"}, {"profile", "llm_mappings"}, {"mode", "upsert"}, {"parallel", 2}})
            .find("ValueError: celeriac.csv_import: mode 'upsert' loads as one part") == 0);
}
