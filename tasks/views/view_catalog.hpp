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
// "schema.view", quoted as in SQL when needed), or nullopt when no
// materialized view has that name. The name is only ever a parameter.
std::optional<view_info> find_view(pqxx::connection& c, const std::string& name);

// The materialized view with this oid as it is now, or nullopt when it has
// been dropped.
std::optional<view_info> find_view(pqxx::connection& c, std::uint32_t oid);

// The views celeriac's migrations created (a comment starting with
// "celeriac:"), each after the views it reads from (directly or through
// plain views), by pg_depend on their rewrite rules.
std::vector<view_info> celeriac_views_in_order(pqxx::connection& c);

}  // namespace celeriac::tasks::views
