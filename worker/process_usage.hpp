#pragma once
// getrusage() figures as `inspect stats` reports them for a node: each live
// child's own, plus those of the children that have ended. The supervisor
// publishes the latter in shared memory each time it reaps a child, so a
// child replaced (killed, crashed, past --max-tasks-per-child) takes none
// of the node's CPU time with it: the counters only go up, as dashboards
// that turn them into rates expect.

#include <array>
#include <atomic>
#include <cstdint>

namespace celeriac::celery {
struct rusage_figures;
}

namespace celeriac::worker {

// This process's own figures (RUSAGE_SELF).
celery::rusage_figures own_usage();
// The figures of every child this process has reaped (RUSAGE_CHILDREN).
celery::rusage_figures reaped_children_usage();

// Figures in memory shared across the node (a member of node_state).
// One writer, the supervisor; children read. Each field is atomic on its
// own: a read during a write may mix two publications, each of which is a
// lower bound of the next, so nothing reads lower than it did before.
class shared_usage {
public:
  static constexpr std::size_t fields = 16;  // utime, stime (µs), maxrss, then celery::rusage_counters

  void store(const celery::rusage_figures& r) noexcept;
  celery::rusage_figures load() const noexcept;

private:
  std::array<std::atomic<std::int64_t>, fields> values_{};
};

}  // namespace celeriac::worker
