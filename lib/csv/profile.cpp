#include "csv/profile.hpp"

#include <array>

namespace celeriac::csv {

namespace {

column_spec text_column(std::string name, bool not_null = false, std::size_t max_length = 0) {
  column_spec c;
  c.name = std::move(name);
  c.kind = column_kind::text;
  c.not_null = not_null;
  c.max_length = max_length;
  return c;
}

column_spec typed_column(std::string name, column_kind kind, bool not_null = false) {
  column_spec c;
  c.name = std::move(name);
  c.kind = kind;
  c.not_null = not_null;
  return c;
}

import_profile llm_mappings() {
  column_spec confidence = typed_column("confidence", column_kind::floating);
  confidence.min = 0.0;
  confidence.max = 1.0;
  return import_profile{
      .name = "llm_mappings",
      .table = "llm_mappings",
      .columns = {text_column("merchant_name", true), text_column("category", false, 200), text_column("ticker"),
                  std::move(confidence), typed_column("user_id", column_kind::integer),
                  typed_column("created_at", column_kind::timestamptz, true)},
      .key_columns = {"merchant_name"},
  };
}

const std::array<import_profile, 1>& profiles() {
  static const std::array<import_profile, 1> all{llm_mappings()};
  return all;
}

}  // namespace

std::size_t import_profile::column_index(std::string_view column) const noexcept {
  std::size_t i = 0;
  while (i < columns.size() && columns[i].name != column) ++i;
  return i;
}

const import_profile* find_profile(std::string_view name) {
  for (const import_profile& p : profiles()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::span<const import_profile> builtin_profiles() { return profiles(); }

}  // namespace celeriac::csv
