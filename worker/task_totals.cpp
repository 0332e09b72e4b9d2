#include "worker/task_totals.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <system_error>

namespace celeriac::worker {

namespace {
constexpr std::size_t per_line = 64 / sizeof(std::atomic<std::uint64_t>);
}

task_totals::task_totals(std::vector<std::string> names, std::size_t slots)
    : names_(std::move(names)), slots_(std::max<std::size_t>(1, slots)) {
  std::sort(names_.begin(), names_.end());
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
  for (std::size_t i = 0; i < names_.size(); ++i) index_.emplace(names_[i], i);
  row_ = std::max<std::size_t>(1, (names_.size() + per_line - 1) / per_line) * per_line;
  bytes_ = slots_ * row_ * sizeof(std::atomic<std::uint64_t>);
  void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(), "mapping the node's task totals for inspect stats");
  counts_ = static_cast<std::atomic<std::uint64_t>*>(p);
  for (std::size_t i = 0; i < slots_ * row_; ++i) new (&counts_[i]) std::atomic<std::uint64_t>(0);
}

task_totals::~task_totals() { ::munmap(counts_, bytes_); }

std::optional<std::size_t> task_totals::index_of(std::string_view name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::atomic<std::uint64_t>& task_totals::at(std::size_t slot, std::size_t name_index) const noexcept {
  return counts_[slot * row_ + name_index];
}

void task_totals::count(std::size_t slot, std::size_t name_index) noexcept {
  if (slot >= slots_ || name_index >= names_.size()) return;
  at(slot, name_index).fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::pair<std::string, std::uint64_t>> task_totals::totals() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (std::size_t n = 0; n < names_.size(); ++n) {
    std::uint64_t sum = 0;
    for (std::size_t s = 0; s < slots_; ++s) sum += at(s, n).load(std::memory_order_relaxed);
    if (sum > 0) out.emplace_back(names_[n], sum);
  }
  return out;
}

std::uint64_t task_totals::all() const noexcept {
  std::uint64_t sum = 0;
  for (std::size_t s = 0; s < slots_; ++s)
    for (std::size_t n = 0; n < names_.size(); ++n) sum += at(s, n).load(std::memory_order_relaxed);
  return sum;
}

}  // namespace celeriac::worker
