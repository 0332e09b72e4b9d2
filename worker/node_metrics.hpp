#pragma once
// The worker node's metrics table: counters every process of the node
// adds to, in memory mapped before the children are forked (like
// child_slots.hpp), so /metrics is node-wide and survives child restarts.
//
//   children  count each task they finish, by name and outcome, and its
//             runtime in histogram buckets (worker/metrics_hooks.hpp);
//             each publishes its job store's backlog in its own row
//   supervisor counts children started and restarted
//   child 1   (index 0) reads the whole table when scraped
//             (worker/metrics_service.hpp)
//
// Rows are fixed before the fork: one per registered task name, one per
// child slot. Every field is a lock-free atomic, so writers in different
// processes never lock and a dead writer leaves nothing half-locked; a
// reader may see a task counted in its outcome a moment before its
// runtime bucket, never a histogram whose buckets disagree with its count
// (the count is the buckets' sum).
//
// Only a worker run with --metrics-port maps a table (node_metrics::
// for_worker); without one every hook is a test of a null pointer.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace celeriac::worker {

// How a task message ended, as Celery names the state (lower case).
enum class task_outcome : std::uint8_t { success, failure, retry, revoked };
inline constexpr std::size_t task_outcome_count = 4;
std::string_view outcome_label(task_outcome o) noexcept;

// Why the supervisor replaced a child (the restart reasons counted).
enum class restart_reason : std::uint8_t { crashed, time_limit, recycled };
inline constexpr std::size_t restart_reason_count = 3;
std::string_view restart_label(restart_reason r) noexcept;

// Upper bounds (seconds) of the task runtime histogram: Prometheus's
// default buckets, then minutes to an hour for long jobs (CSV imports).
inline constexpr std::array<double, 17> runtime_bounds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                          2.5,   5,     10,   30,    60,   300, 900, 3600};

// What a scrape reads out of the table: plain numbers.
struct task_counts {
  std::string name;
  std::array<std::uint64_t, task_outcome_count> outcomes{};
  std::array<std::uint64_t, runtime_bounds.size() + 1> runtime_buckets{};  // not cumulative; last: above all
  double runtime_sum_seconds = 0;
};

struct node_snapshot {
  std::vector<task_counts> tasks;  // sorted by name
  std::uint64_t children_started = 0;
  std::array<std::uint64_t, restart_reason_count> restarts{};
  std::optional<std::uint64_t> job_store_backlog;  // nullopt: no child has a job store
};

class node_metrics {
public:
  // Maps a table for `task_names` and `child_slots` children in memory
  // shared with children forked afterwards. Throws std::system_error if
  // the mapping fails.
  node_metrics(std::vector<std::string> task_names, std::size_t child_slots);
  ~node_metrics();
  node_metrics(const node_metrics&) = delete;
  node_metrics& operator=(const node_metrics&) = delete;

  // The table of this process (inherited by its children), or null when
  // the worker runs without --metrics-port. install() before forking.
  static node_metrics* installed() noexcept;
  static void install(node_metrics* table) noexcept;

  // A task finished with `outcome`; `runtime_seconds` when it ran. Names
  // not registered at start are not counted (they cannot run).
  void task_finished(std::string_view name, task_outcome outcome, std::optional<double> runtime_seconds) noexcept;
  void child_started() noexcept;
  void child_restarted(restart_reason why) noexcept;
  // The job store backlog of the child in slot `index`; nullopt: it has none.
  void set_job_store_backlog(std::size_t index, std::optional<std::uint64_t> pending) noexcept;

  node_snapshot snapshot() const;

private:
  struct task_row;
  struct pool_row;
  struct child_row;
  std::size_t bytes() const noexcept;

  std::vector<std::string> names_;  // sorted; row i counts names_[i]
  std::size_t child_count_;
  void* memory_ = nullptr;
  pool_row* pool_ = nullptr;
  task_row* tasks_ = nullptr;
  child_row* children_ = nullptr;
};

}  // namespace celeriac::worker
