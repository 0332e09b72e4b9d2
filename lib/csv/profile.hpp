#pragma once
// Import profiles: the named shapes a CSV upload can have (target table,
// columns in header order, key columns for upserts).

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "csv/column_spec.hpp"

namespace celeriac::csv {

struct import_profile {
  std::string name;
  std::string table;                     // target table
  std::vector<column_spec> columns;      // in CSV header order
  std::vector<std::string> key_columns;  // the conflict target of mode=upsert

  // Index of the column called `name`, or columns.size() when none is.
  std::size_t column_index(std::string_view column) const noexcept;
};

// The built-in profile called `name`, or nullptr. Profiles live for the
// whole program.
//   llm_mappings -> table llm_mappings, header
//     merchant_name,category,ticker,confidence,user_id,created_at
//     merchant_name text not null, category text (at most 200 characters),
//     ticker text (empty = NULL, private merchants), confidence float in
//     [0, 1], user_id bigint, created_at timestamptz not null;
//     key merchant_name.
const import_profile* find_profile(std::string_view name);

// Every built-in profile (for listing them in an error message).
std::span<const import_profile> builtin_profiles();

}  // namespace celeriac::csv
