#pragma once
// Declared CSV columns: name, type, constraints. Also the compact text form
// a job's kwargs may carry instead of a named profile:
//
//   "name:text(200)!,qty:integer,price:float(0..),at:timestamptz,kind:enum(a|b|c),ok:boolean"
//
//   spec    := column ("," column)*
//   column  := name ":" type ["!"]              "!" = not null
//   name    := [A-Za-z_][A-Za-z0-9_]*            (also the header's name)
//   type    := "text" ["(" N ")"]               N = max length in characters, N >= 1
//            | "integer" | "bigint"              -> bigint
//            | "float" ["(" [min] ".." [max] ")"] | "double"  -> double precision, bounds inclusive
//            | "boolean" | "bool"
//            | "timestamptz"
//            | "enum" "(" value ("|" value)* ")" -> text, one of the values (exact match)
// Spaces around tokens are ignored; type names are case-insensitive; an
// enum value is everything between its separators, trimmed of spaces.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "csv/error.hpp"

namespace celeriac::csv {

enum class column_kind : std::uint8_t { text, integer, floating, boolean, timestamptz, enumeration };

struct column_spec {
  std::string name;
  column_kind kind = column_kind::text;
  bool not_null = false;
  std::size_t max_length = 0;  // text: the limit in characters (code points); 0 = none
  std::optional<double> min;   // floating: inclusive bounds
  std::optional<double> max;
  std::vector<std::string> allowed;  // enumeration: the accepted values
};

// The PostgreSQL type a column is loaded as: "text", "bigint", "double
// precision", "boolean", "timestamptz" (an enumeration is "text").
std::string_view pg_type_name(column_kind kind) noexcept;

// Parses the compact form above. Returns an error naming the column and
// what was expected for the first problem found (unknown type, bad or
// duplicate name, bad bounds, empty spec...).
result<std::vector<column_spec>> parse_column_spec(std::string_view spec);

}  // namespace celeriac::csv
