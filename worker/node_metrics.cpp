#include "worker/node_metrics.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <system_error>

namespace celeriac::worker {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free,
              "the metrics table needs lock-free atomics to be shared across processes");

std::string_view outcome_label(task_outcome o) noexcept {
  switch (o) {
    case task_outcome::success: return "success";
    case task_outcome::failure: return "failure";
    case task_outcome::retry: return "retry";
    case task_outcome::revoked: return "revoked";
  }
  return "unknown";
}

std::string_view restart_label(restart_reason r) noexcept {
  switch (r) {
    case restart_reason::crashed: return "crashed";
    case restart_reason::time_limit: return "time_limit";
    case restart_reason::recycled: return "recycled";
  }
  return "unknown";
}

struct node_metrics::task_row {
  std::array<std::atomic<std::uint64_t>, task_outcome_count> outcomes{};
  std::array<std::atomic<std::uint64_t>, runtime_bounds.size() + 1> runtime_buckets{};
  std::atomic<std::uint64_t> runtime_sum_ns{0};
};

struct node_metrics::pool_row {
  std::atomic<std::uint64_t> children_started{0};
  std::array<std::atomic<std::uint64_t>, restart_reason_count> restarts{};
};

struct node_metrics::child_row {
  static constexpr std::int64_t none = -1;
  std::atomic<std::int64_t> job_store_backlog{none};
};

namespace {

node_metrics* g_installed = nullptr;

// The regions in one mapping, each aligned for the atomics it holds.
constexpr std::size_t align_up(std::size_t n) { return (n + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1); }

}  // namespace

node_metrics::node_metrics(std::vector<std::string> task_names, std::size_t child_slots)
    : names_(std::move(task_names)), child_count_(child_slots) {
  std::sort(names_.begin(), names_.end());
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
  memory_ = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory_ == MAP_FAILED) {
    memory_ = nullptr;
    throw std::system_error(errno, std::generic_category(), "mapping the worker's shared metrics table");
  }
  char* p = static_cast<char*>(memory_);
  pool_ = new (p) pool_row();
  p += align_up(sizeof(pool_row));
  tasks_ = reinterpret_cast<task_row*>(p);
  for (std::size_t i = 0; i < names_.size(); ++i) new (&tasks_[i]) task_row();
  p += align_up(sizeof(task_row) * names_.size());
  children_ = reinterpret_cast<child_row*>(p);
  for (std::size_t i = 0; i < child_count_; ++i) new (&children_[i]) child_row();
}

node_metrics::~node_metrics() {
  if (g_installed == this) g_installed = nullptr;
  if (memory_) ::munmap(memory_, bytes());
}

std::size_t node_metrics::bytes() const noexcept {
  return align_up(sizeof(pool_row)) + align_up(sizeof(task_row) * names_.size()) +
         sizeof(child_row) * std::max<std::size_t>(1, child_count_);
}

node_metrics* node_metrics::installed() noexcept { return g_installed; }
void node_metrics::install(node_metrics* table) noexcept { g_installed = table; }

void node_metrics::task_finished(std::string_view name, task_outcome outcome,
                                 std::optional<double> runtime_seconds) noexcept {
  const auto it = std::lower_bound(names_.begin(), names_.end(), name);
  if (it == names_.end() || *it != name) return;
  task_row& row = tasks_[static_cast<std::size_t>(it - names_.begin())];
  row.outcomes[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  if (!runtime_seconds) return;
  const double s = std::max(0.0, *runtime_seconds);
  // Bucket i counts runtimes <= runtime_bounds[i] (Prometheus's "le").
  const auto b = static_cast<std::size_t>(std::lower_bound(runtime_bounds.begin(), runtime_bounds.end(), s) -
                                          runtime_bounds.begin());
  row.runtime_buckets[b].fetch_add(1, std::memory_order_relaxed);
  row.runtime_sum_ns.fetch_add(static_cast<std::uint64_t>(s * 1e9), std::memory_order_relaxed);
}

void node_metrics::child_started() noexcept { pool_->children_started.fetch_add(1, std::memory_order_relaxed); }

void node_metrics::child_restarted(restart_reason why) noexcept {
  pool_->restarts[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
}

void node_metrics::set_job_store_backlog(std::size_t index, std::optional<std::uint64_t> pending) noexcept {
  if (index >= child_count_) return;
  children_[index].job_store_backlog.store(pending ? static_cast<std::int64_t>(*pending) : child_row::none,
                                           std::memory_order_relaxed);
}

node_snapshot node_metrics::snapshot() const {
  node_snapshot s;
  s.tasks.reserve(names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const task_row& row = tasks_[i];
    task_counts c;
    c.name = names_[i];
    for (std::size_t o = 0; o < task_outcome_count; ++o) c.outcomes[o] = row.outcomes[o].load(std::memory_order_relaxed);
    for (std::size_t b = 0; b < c.runtime_buckets.size(); ++b)
      c.runtime_buckets[b] = row.runtime_buckets[b].load(std::memory_order_relaxed);
    c.runtime_sum_seconds = static_cast<double>(row.runtime_sum_ns.load(std::memory_order_relaxed)) / 1e9;
    s.tasks.push_back(std::move(c));
  }
  s.children_started = pool_->children_started.load(std::memory_order_relaxed);
  for (std::size_t r = 0; r < restart_reason_count; ++r) s.restarts[r] = pool_->restarts[r].load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < child_count_; ++i) {
    const std::int64_t v = children_[i].job_store_backlog.load(std::memory_order_relaxed);
    if (v == child_row::none) continue;
    s.job_store_backlog = s.job_store_backlog.value_or(0) + static_cast<std::uint64_t>(v);
  }
  return s;
}

}  // namespace celeriac::worker
