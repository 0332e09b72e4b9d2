#pragma once
// How many tasks of each name a node has started, for `inspect stats`'
// `total` (Celery's worker counts every task it accepted since it
// started, whichever pool process ran it).
//
// One row per child slot, one counter per registered task name, in memory
// mapped before the children are forked: a child adds to its own row (no
// cache line shared with a sibling's), a child that replaces a dead one
// adds to the row its predecessor left, and the node's sum outlives every
// child. Names are fixed at the fork: a message naming any other task is
// refused and never starts.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace celeriac::worker {

class task_totals {
public:
  task_totals(std::vector<std::string> names, std::size_t slots);
  ~task_totals();
  task_totals(const task_totals&) = delete;
  task_totals& operator=(const task_totals&) = delete;

  // nullopt for a name that was not registered at the fork.
  std::optional<std::size_t> index_of(std::string_view name) const;
  // Slot `slot` started a task of the name at `name_index`.
  void count(std::size_t slot, std::size_t name_index) noexcept;
  // The names counted at least once, with the node's sums, in name order.
  std::vector<std::pair<std::string, std::uint64_t>> totals() const;
  // Every task the node started, whatever its name (the heartbeat's
  // `processed`).
  std::uint64_t all() const noexcept;

private:
  std::atomic<std::uint64_t>& at(std::size_t slot, std::size_t name_index) const noexcept;

  std::vector<std::string> names_;
  std::unordered_map<std::string_view, std::size_t> index_;  // views into names_
  std::size_t slots_;
  std::size_t row_;  // counters per row: names_.size() rounded up to a cache line
  std::size_t bytes_;
  std::atomic<std::uint64_t>* counts_;
};

}  // namespace celeriac::worker
