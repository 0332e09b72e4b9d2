#pragma once
// What a worker child tells its supervisor without a syscall: memory both
// share (mapped before the children are forked), one slot per child index.
//
// The child's executor thread writes the delivery tag and hard deadline of
// the task it starts, then marks the slot running; it clears the mark when
// the task returns. The supervisor reads the deadline while the child lives
// (to enforce hard time limits) and the tag once it is dead (to know which
// of its held messages was running). Lock-free atomics work across
// processes; the tag is only read after the writer is gone or while the
// running mark says it is complete.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace celeriac::worker {

struct child_slot {
  static constexpr std::size_t max_tag = 200;

  std::atomic<std::uint64_t> running{0};          // seq of the running task; 0 when idle
  std::atomic<std::int64_t> hard_deadline_ns{0};  // steady_clock; 0: no hard limit
  std::atomic<std::int64_t> hard_limit_ms{0};     // the limit itself, for TimeLimitExceeded(N)
  std::atomic<std::int64_t> started_ns{0};        // steady_clock, when the running task started
  std::atomic<std::uint64_t> tasks_run{0};
  std::atomic<std::uint32_t> tag_size{0};
  char tag[max_tag] = {};

  // Executor thread, before the task runs / after it returns.
  void mark_running(std::uint64_t seq, std::string_view delivery_tag,
                    std::optional<std::chrono::steady_clock::time_point> hard_deadline, double hard_limit_seconds);
  void mark_idle();

  // The supervisor's reads.
  std::optional<std::chrono::steady_clock::time_point> deadline() const;
  // When the running task started, or nullopt when idle (consistent: a
  // task switch during the read gives nullopt).
  std::optional<std::chrono::steady_clock::time_point> running_since() const;
  // The running message's tag, or nullopt when the child was idle.
  std::optional<std::string> running_tag() const;
  void reset();  // before a replacement child starts in this slot
};

// `count` slots in memory shared with children forked afterwards.
class child_slots {
public:
  explicit child_slots(std::size_t count);
  ~child_slots();
  child_slots(const child_slots&) = delete;
  child_slots& operator=(const child_slots&) = delete;

  std::size_t size() const noexcept { return count_; }
  child_slot& operator[](std::size_t i) noexcept { return slots_[i]; }
  const child_slot& operator[](std::size_t i) const noexcept { return slots_[i]; }

private:
  std::size_t count_;
  child_slot* slots_;
};

}  // namespace celeriac::worker
