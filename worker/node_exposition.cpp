#include "worker/node_exposition.hpp"

#include <algorithm>

#include "metrics/registry.hpp"

namespace celeriac::worker {
namespace {

std::vector<double> runtime_bounds_vector() { return {runtime_bounds.begin(), runtime_bounds.end()}; }

void add_task_metrics(metrics::registry& r, const node_snapshot& table) {
  auto& done = r.add_counter("celeriac_tasks_total",
                             "Task messages this node finished, by task name and outcome (Celery's state: success, "
                             "failure, retry, revoked).",
                             {"task", "outcome"});
  auto& runtime = r.add_histogram("celeriac_task_runtime_seconds",
                                  "How long tasks ran on this node, by task name (runs that ended in success, "
                                  "failure, retry or a terminate).",
                                  {"task"}, runtime_bounds_vector());
  for (const task_counts& t : table.tasks) {
    const bool any = std::any_of(t.outcomes.begin(), t.outcomes.end(), [](std::uint64_t n) { return n > 0; });
    if (any) {
      // Every outcome of a task that ran once, zeros included, so rate()
      // sees a series from its first failure on.
      for (std::size_t o = 0; o < task_outcome_count; ++o)
        done.set_total({t.name, std::string(outcome_label(static_cast<task_outcome>(o)))},
                       static_cast<double>(t.outcomes[o]));
    }
    const bool ran = std::any_of(t.runtime_buckets.begin(), t.runtime_buckets.end(),
                                 [](std::uint64_t n) { return n > 0; });
    if (ran) runtime.add_counts({t.name}, t.runtime_buckets, t.runtime_sum_seconds);
  }
}

void add_pool_metrics(metrics::registry& r, const node_snapshot& table, const pool_view& pool) {
  r.add_gauge("celeriac_worker_info", "Always 1; its label names this worker node.", {"node"}).set({pool.node_name}, 1);
  r.add_gauge("celeriac_worker_start_time_seconds", "When this worker node started, in unix seconds.")
      .set({}, static_cast<double>(pool.started_unix_ms) / 1000.0);
  r.add_gauge("celeriac_worker_children", "Worker child processes alive now.").set({}, pool.children);
  r.add_gauge("celeriac_tasks_running", "Tasks running now (children busy with one).").set({}, pool.tasks_running);
  r.add_counter("celeriac_worker_children_started_total",
                "Worker child processes the supervisor started, first ones and replacements.")
      .set_total({}, static_cast<double>(table.children_started));
  auto& restarts = r.add_counter("celeriac_worker_child_restarts_total",
                                 "Children the supervisor replaced, by why they ended: crashed (a signal or an exit "
                                 "code), time_limit (killed at a task's hard time limit), recycled (max tasks or "
                                 "memory per child).",
                                 {"reason"});
  for (std::size_t i = 0; i < restart_reason_count; ++i)
    restarts.set_total({std::string(restart_label(static_cast<restart_reason>(i)))},
                       static_cast<double>(table.restarts[i]));
  if (table.job_store_backlog)
    r.add_gauge("celeriac_job_store_backlog",
                "Task states the children hold for PostgreSQL (celeriac_jobs) and have not written yet.")
        .set({}, static_cast<double>(*table.job_store_backlog));
}

void add_broker_metrics(metrics::registry& r, const std::optional<broker_reads>& broker) {
  r.add_gauge("celeriac_redis_up", "1 when this scrape's Redis reads answered in time, else 0.")
      .set({}, broker ? 1 : 0);
  if (!broker) return;
  r.add_gauge("celeriac_redis_roundtrip_seconds", "Round-trip time of one PING to the broker, measured at the scrape.")
      .set({}, broker->roundtrip_seconds);
  auto& waiting = r.add_gauge("celeriac_queue_length",
                              "Messages waiting in each consumed queue (LLEN over its priority lists).", {"queue"});
  auto& delayed = r.add_gauge("celeriac_queue_delayed",
                              "Messages of each consumed queue waiting in Redis for their time "
                              "(celeriac.delayed.<queue>: far etas, long retries, rate-limited runs).",
                              {"queue"});
  for (const queue_depth& q : broker->queues) {
    waiting.set({q.queue}, static_cast<double>(q.waiting));
    delayed.set({q.queue}, static_cast<double>(q.delayed));
  }
  r.add_gauge("celeriac_messages_held",
              "Messages this node's children hold: fetched and not yet acknowledged (running, prefetched, eta-held).")
      .set({}, static_cast<double>(broker->messages_held));
  r.add_gauge("celeriac_dead_letters", "Entries in the dead-letter list celeriac.dead (every node's).")
      .set({}, static_cast<double>(broker->dead_letters));
}

}  // namespace

std::string render_node_metrics(const node_snapshot& table, const pool_view& pool,
                                const std::optional<broker_reads>& broker) {
  metrics::registry r;
  add_task_metrics(r, table);
  add_pool_metrics(r, table, pool);
  add_broker_metrics(r, broker);
  return r.render();
}

}  // namespace celeriac::worker
