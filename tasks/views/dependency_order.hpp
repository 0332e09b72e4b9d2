#pragma once
// Orders views so that each comes after the views it reads (pure; the
// catalog queries are in view_catalog.cpp).

#include <cstdint>
#include <map>
#include <set>
#include <vector>

namespace celeriac::tasks::views {

using relation_oid = std::uint32_t;

// reads[r] = the relations r's definition reads directly (any relation:
// tables, plain views, materialized views).
using read_graph = std::map<relation_oid, std::set<relation_oid>>;

// `wanted` ordered so that a view comes after every wanted view it reads,
// directly or through relations that are not wanted (a plain view in
// between, say). Views with no order between them keep their order in
// `wanted`. A cycle cannot exist in PostgreSQL's catalog; if the graph has
// one anyway, it is broken at the first edge that closes it instead of
// looping.
std::vector<relation_oid> dependency_order(const std::vector<relation_oid>& wanted, const read_graph& reads);

}  // namespace celeriac::tasks::views
