// dependency_order: the pure ordering behind celeriac.views.refresh_all.
#include <doctest/doctest.h>

#include "tasks/views/dependency_order.hpp"

using celeriac::tasks::views::dependency_order;
using celeriac::tasks::views::read_graph;
using celeriac::tasks::views::relation_oid;
using list = std::vector<relation_oid>;

TEST_CASE("independent views keep their given order") {
  CHECK(dependency_order({3, 1, 2}, {}) == list{3, 1, 2});
  CHECK(dependency_order({}, {}) == list{});
}

TEST_CASE("a view comes after the views it reads, directly or through other relations") {
  // 1 reads 2; 2 reads table 100.
  CHECK(dependency_order({1, 2}, read_graph{{1, {2}}, {2, {100}}}) == list{2, 1});
  // 1 reads plain view 50, which reads 2.
  CHECK(dependency_order({1, 2}, read_graph{{1, {50}}, {50, {2}}}) == list{2, 1});
  // A chain given backwards, and a diamond.
  CHECK(dependency_order({4, 3, 2, 1}, read_graph{{4, {3}}, {3, {2}}, {2, {1}}}) == list{1, 2, 3, 4});
  CHECK(dependency_order({4, 2, 3, 1}, read_graph{{4, {2, 3}}, {2, {1}}, {3, {1}}}) == list{1, 2, 3, 4});
}

TEST_CASE("unwanted views are looked through, never listed; duplicates listed once") {
  CHECK(dependency_order({1}, read_graph{{1, {2}}, {2, {3}}}) == list{1});
  CHECK(dependency_order({1, 1}, {}) == list{1});
}

TEST_CASE("a cycle (impossible in PostgreSQL) ends instead of looping, each view once") {
  const auto out = dependency_order({1, 2, 3}, read_graph{{1, {2}}, {2, {3}}, {3, {1}}});
  CHECK(out.size() == 3);
  const auto self = dependency_order({1}, read_graph{{1, {1}}});
  CHECK(self == list{1});
  // A cycle among unwanted relations in between.
  CHECK(dependency_order({1, 2}, read_graph{{1, {50}}, {50, {51}}, {51, {50, 2}}}) == list{2, 1});
}
