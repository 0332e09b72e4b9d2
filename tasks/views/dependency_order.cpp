#include "tasks/views/dependency_order.hpp"

#include <functional>

namespace celeriac::tasks::views {
namespace {

// The wanted views `from` reads, looking through relations that are not
// wanted (each looked through once).
std::set<relation_oid> wanted_inputs(relation_oid from, const std::set<relation_oid>& wanted, const read_graph& reads) {
  std::set<relation_oid> found, seen{from};
  std::vector<relation_oid> todo{from};
  while (!todo.empty()) {
    const relation_oid r = todo.back();
    todo.pop_back();
    const auto it = reads.find(r);
    if (it == reads.end()) continue;
    for (relation_oid input : it->second) {
      if (!seen.insert(input).second) continue;
      if (wanted.count(input))
        found.insert(input);  // ordered by its own turn in the walk below
      else
        todo.push_back(input);
    }
  }
  return found;
}

}  // namespace

std::vector<relation_oid> dependency_order(const std::vector<relation_oid>& wanted, const read_graph& reads) {
  const std::set<relation_oid> wanted_set(wanted.begin(), wanted.end());
  std::vector<relation_oid> out;
  std::set<relation_oid> placed, in_progress;
  std::function<void(relation_oid)> place = [&](relation_oid v) {
    if (placed.count(v) || in_progress.count(v)) return;
    in_progress.insert(v);
    for (relation_oid input : wanted_inputs(v, wanted_set, reads)) place(input);
    in_progress.erase(v);
    placed.insert(v);
    out.push_back(v);
  };
  for (relation_oid v : wanted) place(v);
  return out;
}

}  // namespace celeriac::tasks::views
