#include "worker/pool.hpp"

#include <algorithm>
#include <deque>
#include <memory>

#include "celery/inspect_replies.hpp"
#include "celery/kombu_redis.hpp"
#include "redis/sync_client.hpp"
#include "util/log.hpp"
#include "worker/autoscale.hpp"
#include "worker/child.hpp"
#include "worker/child_slots.hpp"
#include "worker/crash_recovery.hpp"
#include "worker/metrics_hooks.hpp"
#include "worker/metrics_service.hpp"
#include "worker/process_usage.hpp"
#include "worker/supervisor.hpp"
#include "worker/wait_turn.hpp"

namespace celeriac::worker {
namespace {

using clock = std::chrono::steady_clock;

// Messages waiting in the consumed queues (every priority list), for
// autoscale; -1 when Redis cannot say.
class backlog_probe {
public:
  explicit backlog_probe(const worker_settings& s) : settings_(s) {}

  long read() {
    try {
      if (!client_) {
        client_ = std::make_unique<redis::sync_client>(worker_settings::for_supervisor(settings_.broker),
                                                       std::chrono::seconds(2));
        client_->connect();
      }
      redis::request req;
      for (const auto& q : settings_.queues)
        for (const auto& list : celery::priority_lists(q.str())) req.push("LLEN", list);
      long total = 0;
      for (const auto& r : client_->exec(req))
        if (auto n = r.as_integer()) total += static_cast<long>(*n);
      return total;
    } catch (const std::exception& e) {
      log::warning("autoscale: cannot read the queue lengths: {}", e.what());
      client_.reset();
      return -1;
    }
  }

private:
  const worker_settings& settings_;
  std::unique_ptr<redis::sync_client> client_;
};

}  // namespace

// Slots beyond the configured pool, so that remote pool_grow (and
// `control autoscale` raising MAX) has room: a slot is a few hundred bytes.
constexpr int max_pool_slots = 256;

int run_pool(const worker_settings& settings, const app::task_registry& registry) {
  const bool autoscale = settings.autoscale_max > 0;
  const int configured = autoscale ? settings.autoscale_max : settings.concurrency;
  const int slots_count = std::max(configured, max_pool_slots);
  child_slots slots(static_cast<std::size_t>(slots_count), registry.names());
  const auto metrics = make_node_metrics(settings, registry.names(), slots.size());  // before any fork
  node_state& node = slots.node_shared();
  node.started_unix_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
  crash_recovery recovery(settings, registry, node.event_clock);
  std::deque<dead_child> unrecovered;
  clock::time_point next_retry{};
  backlog_probe probe(settings);
  autoscale_state scale_state;

  supervisor_config sc;
  sc.children = autoscale ? std::max(1, settings.autoscale_min) : settings.concurrency;
  sc.max_children = slots_count;
  sc.node_name = settings.node_name;
  sc.hooks.before_start = [&](int i) { slots[static_cast<std::size_t>(i)].reset(); };
  sc.hooks.started = [&](int i, pid_t pid) {
    slots[static_cast<std::size_t>(i)].pid.store(pid);
    count_child_started();
  };
  sc.hooks.on_exit = [&](int i, pid_t pid, int status, child_exit why) {
    count_child_exit(i, why);
    node.ended_children.store(reaped_children_usage());
    child_slot& slot = slots[static_cast<std::size_t>(i)];
    slot.pid.store(0);
    // A dead child waits on the main list no more: an idle sibling takes over.
    wait_turn(node.main_list_turn, slots.turn_signal_fd()).give_up(i);
    dead_child d;
    d.pid = pid;
    d.wait_status = status;
    d.end = why == child_exit::time_limit ? child_end::time_limit : child_end::crashed;
    d.running_tag = slot.running_tag();
    d.hard_limit_seconds = static_cast<double>(slot.hard_limit_ms.load()) / 1000.0;
    // Remote enable/disable_events override -E for the whole node.
    const int remote_events = node.task_events.load();
    d.task_events = remote_events >= 0 ? remote_events == 1 : settings.task_events;
    if (!recovery.recover(d)) unrecovered.push_back(std::move(d));
  };
  sc.hooks.made_progress = [&](int i) { return slots[static_cast<std::size_t>(i)].tasks_run.load() > 0; };
  sc.hooks.kill_at = [&](int i) { return slots[static_cast<std::size_t>(i)].deadline(); };
  sc.hooks.on_tick = [&] {
    if (unrecovered.empty() || clock::now() < next_retry) return;
    next_retry = clock::now() + std::chrono::seconds(1);
    while (!unrecovered.empty() && recovery.recover(unrecovered.front())) unrecovered.pop_front();
  };
  if (autoscale) {
    sc.hooks.wanted = [&](int current) {
      const long backlog = probe.read();
      if (backlog < 0) return current;
      autoscale_input in;
      in.current = current;
      for (std::size_t i = 0; i < slots.size(); ++i)
        if (slots[i].running_tag()) ++in.busy;
      in.backlog = backlog;
      // `control autoscale MAX MIN` overrides the command line.
      const int max_override = node.autoscale_max.load();
      const int min_override = node.autoscale_min.load();
      in.max = max_override > 0 ? std::min(max_override, slots_count) : settings.autoscale_max;
      in.min = min_override >= 0 ? std::min(min_override, in.max) : settings.autoscale_min;
      in.now = clock::now();
      in.keepalive = settings.autoscale_keepalive;
      return autoscale_target(in, scale_state);
    };
  } else {
    // Remote pool_grow/pool_shrink: the first child leaves the change here.
    // At least one child stays: the first answers remote control.
    sc.hooks.wanted = [&](int current) {
      const int delta = node.pool_delta.exchange(0);
      return std::clamp(current + delta, 1, slots_count);
    };
  }
  const int code = run_supervisor(sc, [&](int index) {
    return run_child(settings, registry, index, slots);
  });
  if (!unrecovered.empty())
    log::error("{} dead child(ren)'s messages could not be dealt with before exit; they return after the "
               "visibility timeout",
               unrecovered.size());
  return code;
}

}  // namespace celeriac::worker
