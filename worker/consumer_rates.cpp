// The consumer's rate limits: runs of rate-limited tasks are admitted by
// Redis (one GCRA script per task and batch, cluster-wide) before they run;
// the others go to their queue's delayed set, due when their slot comes,
// so they neither run early nor hold up other tasks in this child.

#include "worker/consumer.hpp"

#include <map>

#include "broker/delayed.hpp"
#include "limiter/admission.hpp"
#include "limiter/runtime_rates.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "worker/consumer_support.hpp"

namespace celeriac::worker {

awaitable<void> consumer::admission_loop() {
  asio::steady_timer t(io_);
  while (!stopping_) {
    if (admission_queue_.empty()) {
      admission_wake_.expires_at(forever);
      co_await wait_on(admission_wake_);
      continue;
    }
    // Grouped by task, in arrival order: one script call per task.
    std::map<std::string, std::vector<std::uint64_t>> by_task;
    for (auto seq : std::exchange(admission_queue_, {}))
      if (auto it = held_.find(seq); it != held_.end()) by_task[it->second.message.headers.task].push_back(seq);
    for (auto& [task, seqs] : by_task) {
      const limiter::limit* lim = rates_.find(task);
      limiter::batch_admission a;
      if (lim) {
        const limiter::limit limit_copy = *lim;  // rates_ may change while we wait
        try {
          a = co_await limiter::async_admit_batch(broker_conn_, limit_copy, seqs.size());
        } catch (const std::exception& e) {
          log::warning("rate limit of {}: admission failed ({}); retrying in a second", task, e.what());
          a.admitted = 0;
          a.retry_after = std::chrono::seconds(1);
          a.decided_at = std::chrono::duration_cast<std::chrono::microseconds>(
              util::wall_now().time_since_epoch());
        }
      } else {
        a.admitted = seqs.size();  // the limit was lifted meanwhile
      }
      for (std::size_t k = 0; k < seqs.size(); ++k) {
        auto it = held_.find(seqs[k]);
        if (it == held_.end()) continue;  // put back by a shutdown meanwhile
        held_message& h = it->second;
        --eta_held_;  // no longer waiting: it runs now or leaves for the delayed set
        if (k < a.admitted) {
          h.admitted = true;
          h.where = held_message::phase::ready;
          make_ready(h);
          continue;
        }
        // Its slot: the first refused run's wait, then one interval apart.
        const auto due_us = a.decided_at + a.retry_after + a.interval * static_cast<long>(k - a.admitted);
        const double due = std::chrono::duration<double>(due_us).count();
        log::debug("Task {}[{}] is over its rate limit: waiting in {} until its slot", task, h.message.headers.id,
                   broker::delayed_key(h.queue));
        writes_.defers.push_back(deferral{h.tag, h.queue, static_cast<int>(h.message.properties.priority), h.raw,
                                          due});
        held_.erase(it);
      }
    }
    wake_writer();
    wake_fetcher();
  }
}

awaitable<void> consumer::refresh_rates() {
  try {
    auto rr = co_await limiter::async_read_runtime_rates(broker_conn_);
    for (const auto& bad : rr.bad)
      if (reported_bad_rates_.insert(bad.task + "\n" + bad.text).second)
        log::error("ignoring the run-time rate limit of {} ('{}'): {}", bad.task, bad.text, bad.error);
    rates_.set_runtime(std::move(rr.rates));
  } catch (const std::exception& e) {
    log::debug("reading run-time rate limits failed: {}", e.what());
  }
}

awaitable<void> consumer::rates_loop() {
  asio::steady_timer t(io_);
  while (!stopping_) {
    co_await refresh_rates();
    co_await sleep_for(t, std::chrono::seconds(2));
  }
}

}  // namespace celeriac::worker
