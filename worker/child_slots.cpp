#include "worker/child_slots.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

namespace celeriac::worker {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free,
              "shared slots need lock-free atomics to work across processes");

void child_slot::mark_running(std::uint64_t seq, std::string_view delivery_tag,
                              std::optional<std::chrono::steady_clock::time_point> hard_deadline,
                              double hard_limit_seconds) {
  const std::size_t n = std::min(delivery_tag.size(), max_tag);
  std::memcpy(tag, delivery_tag.data(), n);
  tag_size.store(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
  hard_limit_ms.store(static_cast<std::int64_t>(hard_limit_seconds * 1000), std::memory_order_relaxed);
  hard_deadline_ns.store(hard_deadline ? hard_deadline->time_since_epoch().count() : 0, std::memory_order_relaxed);
  started_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  running.store(seq, std::memory_order_release);
}

void child_slot::mark_idle() {
  running.store(0, std::memory_order_release);
  hard_deadline_ns.store(0, std::memory_order_relaxed);
  tasks_run.fetch_add(1, std::memory_order_relaxed);
}

std::optional<std::chrono::steady_clock::time_point> child_slot::deadline() const {
  if (running.load(std::memory_order_acquire) == 0) return std::nullopt;
  const std::int64_t ns = hard_deadline_ns.load(std::memory_order_relaxed);
  if (ns == 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ns));
}

std::optional<std::chrono::steady_clock::time_point> child_slot::running_since() const {
  const std::uint64_t before = running.load(std::memory_order_acquire);
  if (before == 0) return std::nullopt;
  const std::int64_t ns = started_ns.load(std::memory_order_acquire);
  if (running.load(std::memory_order_acquire) != before) return std::nullopt;
  return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(ns));
}

std::optional<std::string> child_slot::running_tag() const {
  if (running.load(std::memory_order_acquire) == 0) return std::nullopt;
  return std::string(tag, std::min<std::size_t>(tag_size.load(std::memory_order_relaxed), max_tag));
}

void child_slot::reset() {
  running.store(0);
  hard_deadline_ns.store(0);
  hard_limit_ms.store(0);
  tasks_run.store(0);
  tag_size.store(0);
}

child_slots::child_slots(std::size_t count) : count_(count) {
  void* p = ::mmap(nullptr, sizeof(child_slot) * std::max<std::size_t>(1, count), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(), "mapping the worker children's shared slots");
  slots_ = static_cast<child_slot*>(p);
  for (std::size_t i = 0; i < count_; ++i) new (&slots_[i]) child_slot();
}

child_slots::~child_slots() { ::munmap(slots_, sizeof(child_slot) * std::max<std::size_t>(1, count_)); }

}  // namespace celeriac::worker
