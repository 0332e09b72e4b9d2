#include "worker/child_slots.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>
#include <thread>

#include "worker/wait_turn.hpp"

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


namespace {

// A sequence-locked copy into shared memory: the version is odd while the
// bytes change, so a reader retries instead of seeing half of an update.
void write_locked(std::atomic<std::uint64_t>& version, std::atomic<std::uint32_t>& size, char* dest,
                  std::string_view text) {
  version.fetch_add(1, std::memory_order_acq_rel);
  std::memcpy(dest, text.data(), text.size());
  size.store(static_cast<std::uint32_t>(text.size()), std::memory_order_relaxed);
  version.fetch_add(1, std::memory_order_release);
}

std::string read_locked(const std::atomic<std::uint64_t>& version, const std::atomic<std::uint32_t>& size,
                        const char* src, std::size_t capacity) {
  for (;;) {
    const std::uint64_t before = version.load(std::memory_order_acquire);
    if (before % 2 == 1) continue;
    std::string text(src, std::min<std::size_t>(size.load(std::memory_order_relaxed), capacity));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (version.load(std::memory_order_relaxed) == before) return text;
  }
}

}  // namespace

void node_state::lock_writer() {
  const std::int32_t me = static_cast<std::int32_t>(::getpid());
  for (;;) {
    std::int32_t holder = 0;
    if (writer_pid.compare_exchange_weak(holder, me, std::memory_order_acquire)) return;
    if (holder != 0 && ::kill(holder, 0) != 0 && errno == ESRCH)
      writer_pid.compare_exchange_strong(holder, me, std::memory_order_acquire);
    if (writer_pid.load(std::memory_order_relaxed) == me) return;
    std::this_thread::yield();
  }
}

void node_state::unlock_writer() { writer_pid.store(0, std::memory_order_release); }

bool node_state::set_queues(std::string_view text) {
  if (text.size() > max_queues_text) return false;
  write_locked(queues_version, queues_size, queues, text);
  return true;
}

std::optional<std::string> node_state::queues_text() const {
  if (queues_version.load(std::memory_order_acquire) == 0) return std::nullopt;  // never set
  return read_locked(queues_version, queues_size, queues, max_queues_text);
}

bool node_state::set_time_limits_text(std::string_view text) {
  if (text.size() > max_limits_text) return false;
  write_locked(limits_version, limits_size, limits, text);
  return true;
}

std::string node_state::time_limits_text() const {
  return read_locked(limits_version, limits_size, limits, max_limits_text);
}

// The node's state first, then the slots, in one mapping.
std::size_t child_slots::bytes() const noexcept {
  return sizeof(node_state) + sizeof(child_slot) * std::max<std::size_t>(1, count_);
}

child_slots::child_slots(std::size_t count, std::vector<std::string> task_names)
    : count_(count), totals_(std::make_unique<task_totals>(std::move(task_names), count)) {
  static_assert(sizeof(node_state) % alignof(child_slot) == 0, "slots follow the node state, aligned");
  void* p = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(), "mapping the worker children's shared slots");
  node_ = new (p) node_state();
  slots_ = reinterpret_cast<child_slot*>(static_cast<char*>(p) + sizeof(node_state));
  for (std::size_t i = 0; i < count_; ++i) new (&slots_[i]) child_slot();
  try {
    turn_signal_fd_ = wait_turn::make_signal_fd();
  } catch (...) {
    ::munmap(p, bytes());
    throw;
  }
}

node_state& child_slots::node_shared() noexcept { return *node_; }
const node_state& child_slots::node_shared() const noexcept { return *node_; }

child_slots::~child_slots() {
  ::close(turn_signal_fd_);
  ::munmap(node_, bytes());
}

}  // namespace celeriac::worker
