#include <doctest/doctest.h>

#include <string>

#include "csv/column_spec.hpp"
#include "csv/profile.hpp"

using namespace celeriac::csv;

namespace {

std::string error_of(std::string_view spec) {
  const auto r = parse_column_spec(spec);
  REQUIRE_MESSAGE(r.has_error(), "parsed: ", std::string(spec));
  return r.error().message;
}

}  // namespace

TEST_CASE("column spec: the documented example") {
  const auto r =
      parse_column_spec("name:text(200)!,qty:integer,price:float,at:timestamptz,kind:enum(a|b|c),ok:boolean");
  REQUIRE(r.has_value());
  const auto& cols = *r;
  REQUIRE(cols.size() == 6);
  CHECK(cols[0].name == "name");
  CHECK(cols[0].kind == column_kind::text);
  CHECK(cols[0].max_length == 200);
  CHECK(cols[0].not_null);
  CHECK(cols[1].kind == column_kind::integer);
  CHECK_FALSE(cols[1].not_null);
  CHECK(cols[2].kind == column_kind::floating);
  CHECK_FALSE(cols[2].min.has_value());
  CHECK(cols[3].kind == column_kind::timestamptz);
  CHECK(cols[4].kind == column_kind::enumeration);
  CHECK(cols[4].allowed == std::vector<std::string>{"a", "b", "c"});
  CHECK(cols[5].kind == column_kind::boolean);
}

TEST_CASE("column spec: aliases, bounds, spaces and case") {
  const auto r = parse_column_spec(
      " a : BIGINT ! , b:double( -1.5 .. 2 ), c:float(0..), d:float(..10), e:bool, f:text, g:enum( x y | z ) ");
  REQUIRE(r.has_value());
  const auto& c = *r;
  REQUIRE(c.size() == 7);
  CHECK(c[0].kind == column_kind::integer);
  CHECK(c[0].not_null);
  CHECK(*c[1].min == -1.5);
  CHECK(*c[1].max == 2.0);
  CHECK(*c[2].min == 0.0);
  CHECK_FALSE(c[2].max.has_value());
  CHECK_FALSE(c[3].min.has_value());
  CHECK(*c[3].max == 10.0);
  CHECK(c[4].kind == column_kind::boolean);
  CHECK(c[5].max_length == 0);
  CHECK(c[6].allowed == std::vector<std::string>{"x y", "z"});
}

TEST_CASE("column spec: errors name the column and the fix") {
  CHECK(error_of("") ==
        "column spec: it is empty; give name:type pairs separated by commas, e.g. "
        "\"name:text(200)!,qty:integer,price:float(0..),at:timestamptz,kind:enum(a|b),ok:boolean\"");
  CHECK(error_of("name:strng") ==
        "column spec: unknown type 'strng' for column 'name': use text, integer, float, boolean, timestamptz or "
        "enum");
  CHECK(error_of("name text").starts_with("column spec: expected ':' and a type after column 'name'"));
  CHECK(error_of("a:text,a:integer") == "column spec: column 'a' is declared twice");
  CHECK(error_of("a:text(0)") ==
        "column spec: text(0) of column 'a': the limit must be a whole number of characters >= 1");
  CHECK(error_of("a:text(x)").starts_with("column spec: text(x) of column 'a'"));
  CHECK(error_of("a:float(1..0)") == "column spec: float(1..0) of column 'a': the minimum is above the maximum");
  CHECK(error_of("a:float(0-1)") ==
        "column spec: float(0-1) of column 'a': write the bounds as min..max, either one optional");
  CHECK(error_of("a:float(x..1)") == "column spec: bound 'x' of column 'a' is not a finite number");
  CHECK(error_of("a:enum") == "column spec: enum of column 'a' needs its values, e.g. enum(a|b|c)");
  CHECK(error_of("a:enum(x||y)") == "column spec: enum(x||y) of column 'a' has an empty value");
  CHECK(error_of("a:enum(x|x)") == "column spec: enum(x|x) of column 'a' lists 'x' twice");
  CHECK(error_of("a:integer(3)") == "column spec: type 'integer' of column 'a' takes no arguments");
  CHECK(error_of("a:text(3") == "column spec: the '(' after the type of column 'a' is never closed");
  CHECK(error_of("a:text;b:text") ==
        "column spec: unexpected ';' at character 7 after column 'a'; separate columns with ','");
  CHECK(error_of("a:text,").starts_with("column spec: expected a column name (letters, digits, '_') at character 8"));
  CHECK(error_of("1a:text").starts_with("column spec: expected a column name"));
  CHECK(error_of("a:").starts_with("column spec: column 'a' has no type after ':'"));
}

TEST_CASE("profile: llm_mappings") {
  const import_profile* p = find_profile("llm_mappings");
  REQUIRE(p != nullptr);
  CHECK(p->table == "llm_mappings");
  REQUIRE(p->columns.size() == 6);
  const char* names[] = {"merchant_name", "category", "ticker", "confidence", "user_id", "created_at"};
  for (std::size_t i = 0; i < 6; ++i) CHECK(p->columns[i].name == names[i]);
  CHECK(p->columns[0].not_null);
  CHECK(p->columns[0].kind == column_kind::text);
  CHECK_FALSE(p->columns[2].not_null);
  CHECK(p->columns[3].kind == column_kind::floating);
  CHECK(*p->columns[3].min == 0.0);
  CHECK(*p->columns[3].max == 1.0);
  CHECK(p->columns[4].kind == column_kind::integer);
  CHECK(p->columns[5].kind == column_kind::timestamptz);
  CHECK(p->columns[5].not_null);
  CHECK(p->key_columns == std::vector<std::string>{"merchant_name"});
  CHECK(p->column_index("ticker") == 2);
  CHECK(p->column_index("nope") == 6);
  CHECK(find_profile("nope") == nullptr);
  CHECK(builtin_profiles().size() == 1);
}

TEST_CASE("column spec: PostgreSQL types") {
  CHECK(pg_type_name(column_kind::text) == "text");
  CHECK(pg_type_name(column_kind::integer) == "bigint");
  CHECK(pg_type_name(column_kind::floating) == "double precision");
  CHECK(pg_type_name(column_kind::boolean) == "boolean");
  CHECK(pg_type_name(column_kind::timestamptz) == "timestamptz");
  CHECK(pg_type_name(column_kind::enumeration) == "text");
}
