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
  pid.store(0);
  hard_deadline_ns.store(0);
  hard_limit_ms.store(0);
  tasks_run.store(0);
  tag_size.store(0);
}

bool node_state::set_queues(std::string_view text) {
  if (text.size() > max_queues_text) return false;
  queues_version.fetch_add(1, std::memory_order_acq_rel);  // odd: being written
  std::memcpy(queues, text.data(), text.size());
  queues_size.store(static_cast<std::uint32_t>(text.size()), std::memory_order_relaxed);
  queues_version.fetch_add(1, std::memory_order_release);
  return true;
}

std::optional<std::string> node_state::queues_text() const {
  for (;;) {
    const std::uint64_t before = queues_version.load(std::memory_order_acquire);
    if (before == 0) return std::nullopt;
    if (before % 2 == 1) continue;  // a writer is half-way: read again
    std::string text(queues, std::min<std::size_t>(queues_size.load(std::memory_order_relaxed), max_queues_text));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (queues_version.load(std::memory_order_relaxed) == before) return text;
  }
}

// The node's state first, then the slots, in one mapping.
std::size_t child_slots::bytes() const noexcept {
  return sizeof(node_state) + sizeof(child_slot) * std::max<std::size_t>(1, count_);
}

child_slots::child_slots(std::size_t count) : count_(count) {
  static_assert(sizeof(node_state) % alignof(child_slot) == 0, "slots follow the node state, aligned");
  void* p = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(), "mapping the worker children's shared slots");
  node_ = new (p) node_state();
  slots_ = reinterpret_cast<child_slot*>(static_cast<char*>(p) + sizeof(node_state));
  for (std::size_t i = 0; i < count_; ++i) new (&slots_[i]) child_slot();
}

node_state& child_slots::node_shared() noexcept { return *node_; }
const node_state& child_slots::node_shared() const noexcept { return *node_; }

child_slots::~child_slots() { ::munmap(node_, bytes()); }

}  // namespace celeriac::worker
