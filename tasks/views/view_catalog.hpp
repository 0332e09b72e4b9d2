#pragma once
// What the catalog says about materialized views: a name checked against
// pg_matviews (never turned into SQL unchecked), whether REFRESH
// CONCURRENTLY can be used, and celeriac's own views in dependency order.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace celeriac::tasks::views {

struct view_info {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
  bool populated = false;
  bool has_unique_index = false;  // a valid, unique, non-partial index on plain columns

  std::string qualified() const { return schema + "." + name; }
  // "schema"."name", quoted from the catalog's own names.
  std::string quoted(pqxx::connection& c) const;
};

// The materialized view `name` ("view" on the search path, or
// "schema.view"), or nullopt when no materialized view has that name.
std::optional<view_info> find_view(pqxx::connection& c, const std::string& name);

// The views celeriac's migrations created (a comment starting with
// "celeriac:"), each after the views it reads from.
std::vector<view_info> celeriac_views_in_order(pqxx::connection& c);

}  // namespace celeriac::tasks::views
