#pragma once
// What a worker child tells its supervisor without a syscall: memory both
// share (mapped before the children are forked), one slot per child index.
//
// The thread running the child's task writes the delivery tag and hard deadline of
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
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "worker/process_usage.hpp"
#include "worker/task_totals.hpp"

namespace celeriac::worker {

struct child_slot {
  static constexpr std::size_t max_tag = 200;

  std::atomic<std::uint64_t> running{0};          // seq of the running task; 0 when idle
  std::atomic<std::int64_t> hard_deadline_ns{0};  // steady_clock; 0: no hard limit
  std::atomic<std::int64_t> hard_limit_ms{0};     // the limit itself, for TimeLimitExceeded(N)
  std::atomic<std::int64_t> started_ns{0};        // steady_clock, when the running task started
  std::atomic<std::uint64_t> tasks_run{0};
  std::atomic<std::int32_t> pid{0};               // the child's pid while it lives (set by the supervisor)
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

// What the node as a whole shares: remote control requests a child takes
// for the supervisor (pool_grow, autoscale), and the queues the node
// consumes once add_consumer/cancel_consumer changed them, so a child that
// replaces a dead one starts with the same queues.
struct node_state {
  static constexpr std::size_t max_queues_text = 4096;

  std::atomic<std::int64_t> started_unix_ms{0};  // when the node started (stats uptime)
  std::atomic<std::int32_t> pool_delta{0};       // children to add (or remove, negative); taken by the supervisor
  std::atomic<std::int32_t> autoscale_max{0};    // 0: as configured
  std::atomic<std::int32_t> autoscale_min{-1};   // -1: as configured
  std::atomic<std::int32_t> task_events{-1};     // remote enable/disable_events: 1/0; -1: as -E says
  // The node's Lamport clock for its events, as a Celery worker has one:
  // every child and the supervisor stamp from it. A cache line of its
  // own: every child bumps it. (The heartbeat's `processed`, tasks started
  // by any child alive or replaced, is child_slots::started_by_task().)
  alignas(64) std::atomic<std::int64_t> event_clock{0};
  // The child that waits on the main list for the node, -1 for none
  // (worker/wait_turn.hpp). Its own cache line: idle children read it.
  alignas(64) std::atomic<std::int32_t> main_list_turn{-1};

  // What the node's children that have ended used (inspect stats'
  // rusage), published by the supervisor as it reaps each one.
  shared_usage ended_children;

  // Every child that hears a broadcast records its change here (the same
  // change from each: idempotent), so it lands even while the first child
  // is being replaced. One writer at a time; a writer that died holding
  // the lock (a child killed mid-copy) is taken over.
  std::atomic<std::int32_t> writer_pid{0};
  void lock_writer();
  void unlock_writer();

  // Consumed queues, '\n'-separated, under a sequence lock: odd while
  // being written. Empty (version 0): as configured.
  std::atomic<std::uint64_t> queues_version{0};
  std::atomic<std::uint32_t> queues_size{0};
  char queues[max_queues_text];  // zeroed by the mapping

  // Child side. Returns false when the text does not fit.
  bool set_queues(std::string_view newline_separated);
  // nullopt: never set (use the configured queues).
  std::optional<std::string> queues_text() const;

  // Remote time_limit per task, for the node's lifetime (Celery keeps them
  // on the task until the worker stops): "name\tsoft\thard\n" lines, an
  // empty field for "none", the latest line for a task wins. Written by the
  // first child only, under its own sequence lock.
  static constexpr std::size_t max_limits_text = 8192;
  std::atomic<std::uint64_t> limits_version{0};
  std::atomic<std::uint32_t> limits_size{0};
  char limits[max_limits_text];  // zeroed by the mapping

  bool set_time_limits_text(std::string_view text);  // false: does not fit
  std::string time_limits_text() const;
};

// `count` slots in memory shared with children forked afterwards, and the
// one eventfd the children signal each other with.
class child_slots {
public:
  // `task_names`: the registered tasks, counted per slot for inspect stats.
  child_slots(std::size_t count, std::vector<std::string> task_names);
  ~child_slots();
  child_slots(const child_slots&) = delete;
  child_slots& operator=(const child_slots&) = delete;

  std::size_t size() const noexcept { return count_; }
  child_slot& operator[](std::size_t i) noexcept { return slots_[i]; }
  const child_slot& operator[](std::size_t i) const noexcept { return slots_[i]; }
  // Not called node(): with that name g++ 12 crashes (ICE, segfault) on
  // worker/consumer_fetch.cpp at -O2 -g.
  node_state& node_shared() noexcept;
  const node_state& node_shared() const noexcept;
  // The eventfd that signals node_state::main_list_turn given up
  // (worker/wait_turn.hpp), inherited by every child.
  int turn_signal_fd() const noexcept { return turn_signal_fd_; }
  // Tasks started, by slot and name (worker/task_totals.hpp).
  task_totals& started_by_task() noexcept { return *totals_; }
  const task_totals& started_by_task() const noexcept { return *totals_; }

private:
  std::size_t bytes() const noexcept;

  std::size_t count_;
  node_state* node_;
  child_slot* slots_;
  int turn_signal_fd_ = -1;
  std::unique_ptr<task_totals> totals_;
};

}  // namespace celeriac::worker
