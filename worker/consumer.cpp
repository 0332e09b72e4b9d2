// The consumer's lifecycle: construction, the loops it runs, warm and cold
// shutdown, putting held messages back.

#include "worker/consumer.hpp"

#include <unistd.h>

#include <algorithm>
#include <memory>

#include <boost/asio/co_spawn.hpp>

#include "util/log.hpp"

#include "worker/consumer_support.hpp"

namespace celeriac::worker {

namespace {

// The registration defaults (app::task_options::rate_limit) of every task.
limiter::task_rate_map registered_rates(const app::task_registry& registry) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& name : registry.names())
    if (const auto* t = registry.find(name); t && t->options.rate_limit) entries.emplace_back(name, *t->options.rate_limit);
  return limiter::parse_task_rates(entries);
}

// The configured queues, or those remote add_consumer/cancel_consumer left
// for the node (a replacement child consumes what its predecessor did).
std::vector<broker::queue_name> consumed_queues(const worker_settings& s, const node_state& node) {
  auto text = node.queues_text();
  auto queues = text ? queue_lines(*text) : std::vector<broker::queue_name>{};
  return queues.empty() ? s.queues : queues;
}

broker::transport_config transport_settings(const worker_settings& s, const node_state& node) {
  broker::transport_config tc{consumed_queues(s, node), s.visibility_timeout};
  tc.held_key = s.held_key(static_cast<long>(::getpid()));
  return tc;
}

}  // namespace

consumer::consumer(asio::io_context& io, const worker_settings& settings, const app::task_registry& registry,
                   int child_index, lifecycle_sink* sink, child_slots& slots)
    : io_(io),
      settings_(settings),
      registry_(registry),
      index_(child_index),
      sink_(sink),
      slots_(slots),
      slot_(slots[static_cast<std::size_t>(child_index)]),
      child_broker_(settings.child_broker(::getpid())),
      broker_conn_(io.get_executor(), child_broker_),
      transport_(broker_conn_, transport_settings(settings, slots.node_shared())),
      wake_fetch_(io, child_broker_),
      turn_(slots.node_shared().main_list_turn, slots.turn_signal_fd()),
      turn_signal_(io, turn_.own_signal_fd()),
      turn_wake_(io),
      fetch_wake_(io),
      watch_go_(io),
      writer_wake_(io),
      eta_wake_(io),
      done_wake_(io),
      dispatch_wake_(io),
      admission_wake_(io) {
  sync_time_limits();
  queues_seen_ = slots.node_shared().queues_version.load();  // the transport started with them
  rates_ = limiter::task_rates(limiter::parse_task_rates(settings_.rate_limits), registered_rates(registry_));
  watch_go_.expires_at(forever);
  if (settings_.result_backend && !settings_.results_on_broker()) {
    backend_conn_ = std::make_unique<redis::connection>(io.get_executor(), *settings_.result_backend);
    backend_transport_ = std::make_unique<broker::kombu_transport>(
        *backend_conn_, broker::transport_config{settings.queues, settings.visibility_timeout});
  }

  make_events();  // before the executor: its start callback reads it
  if (const int remote = slots.node_shared().task_events.load(); remote >= 0) events_->set_task_events(remote == 1);
  auto post_outcome = [this](std::vector<outcome> batch) {
    asio::post(io_, [this, batch = std::move(batch)]() mutable {
      for (auto& o : batch) on_outcome(std::move(o));
      wake_writer();
      wake_fetcher();
    });
  };
  // The slot is written on the executor thread, before and after each
  // task: the supervisor learns what runs without a syscall.
  executor::start_callback on_start = [this](const job& j) {
    slot_.mark_running(j.seq, j.delivery_tag, j.hard_deadline, j.hard_limit.value_or(0));
    auto& started = slots_.started_by_task();
    if (const auto name = started.index_of(j.request.name)) started.count(static_cast<std::size_t>(index_), *name);
    if (sink_) sink_->started(j.request);
    if (settings_.acks_early || events_->task_events_on())
      asio::post(io_, [this, seq = j.seq] { on_started(seq); });
  };
  app::task_context::progress_sink progress;
  if (sink_) progress = [this](const app::task_request& r, const app::progress_report& p) { sink_->progress(r, p); };
  executor_ = std::make_unique<executor>(std::move(post_outcome), std::move(on_start), std::move(progress));
  executor_->set_end_callback([this](const job&) { slot_.mark_idle(); });
}

consumer::~consumer() = default;

// ---------------------------------------------------------------------------
// Running and stopping
// ---------------------------------------------------------------------------

void consumer::spawn_loop(awaitable<void> loop, const char* name) {
  ++running_loops_;
  asio::co_spawn(io_, std::move(loop), [this, name](std::exception_ptr e) {
    --running_loops_;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::critical("worker {} loop died: {}; restarting the child", name, ex.what());
      }
      failed_ = true;
      begin_shutdown(true);
    }
    done_wake_.cancel();
  });
}

awaitable<int> consumer::async_run() {
  co_await ensure_connected(broker_conn_, "broker");
  if (backend_conn_) co_await ensure_connected(*backend_conn_, "result backend");
  if (stopping_) co_return 0;
  for (;;) {
    try {
      co_await transport_.async_declare();
      break;
    } catch (const std::exception& e) {
      log::error("declaring queues failed: {}; retrying", e.what());
    }
    co_await ensure_connected(broker_conn_, "broker");
  }

  auto spawn = [this](awaitable<void> loop, const char* name) { spawn_loop(std::move(loop), name); };
  spawn(fetch_loop(), "fetch");
  spawn(wake_fetch_loop(), "wake-up and fetch");
  spawn(write_loop(), "write");
  spawn(touch_loop(), "heartbeat");
  spawn(eta_loop(), "eta");
  spawn(fair_dispatch_loop(), "dispatch");
  spawn(turn_loop(), "main list's turn");
  spawn(admission_loop(), "admission");
  spawn(rates_loop(), "rate limits");
  spawn(control_loop(), "remote control");
  spawn(revoked_refresh_loop(), "revoked ids");
  spawn(events_loop(), "events");
  if (index_ == 0) {
    spawn(restore_loop(), "restore");
    spawn(promote_loop(), "delayed");
    if (sink_) spawn(job_outcomes_loop(), "job outcomes");
  }
  watch_consumed_lists();

  while (!(stopping_ && shutdown_complete_)) {
    done_wake_.expires_at(forever);
    co_await wait_on(done_wake_);
  }
  co_return failed_ ? 1 : 0;
}

// Called on the supervisor's SIGTERM/SIGQUIT: the node itself stops.
void consumer::warm_shutdown() {
  node_stopping_ = true;
  begin_shutdown(false);
}
void consumer::cold_shutdown() {
  node_stopping_ = true;
  begin_shutdown(true);
}

void consumer::begin_shutdown(bool cold) {
  if (stopping_ && (cold_ || !cold)) return;
  bool first = !stopping_;
  stopping_ = true;
  if (cold) {
    cold_ = true;
    executor_->request_stop();
  }
  for (auto* t : {&fetch_wake_, &watch_go_, &writer_wake_, &eta_wake_, &done_wake_, &dispatch_wake_, &admission_wake_,
                  &wake_fetch_.done})
    t->cancel();
  poke_turn();  // gives the turn up
  // Messages to put back leave held_ now, synchronously: an outcome the
  // executor posts meanwhile then finds nothing to ack and cannot store a
  // result for a message that is already on its way back to the queue.
  std::vector<std::string> tags = release_held(cold);
  if (first || cold)
    asio::co_spawn(io_, shutdown_sequence(cold, std::move(tags)), [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error("shutdown did not complete cleanly: {}", ex.what());
        }
      }
      shutdown_complete_ = true;
      done_wake_.cancel();
    });
}

awaitable<void> consumer::shutdown_sequence(bool cold, std::vector<std::string> tags) {
  if (shutdown_started_ && !cold) co_return;
  shutdown_started_ = true;
  // A fetch pipelined behind the main list's BLMOVE may run any moment:
  // let it run now, and its messages go back with the rest.
  co_await finish_wake_fetch();
  co_await restore_tags(std::move(tags));
  asio::steady_timer t(io_);
  // Warm: the running task finishes and its outcome is written.
  while (!cold_ && !held_.empty()) co_await sleep_for(t, milliseconds(20));
  // Everything decided is written before we go, at-least-once either way.
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while ((!writes_.empty() || writes_in_flight_ > 0) && steady_clock::now() < deadline) {
    wake_writer();
    co_await sleep_for(t, milliseconds(5));
  }
  if (!writes_.empty() || writes_in_flight_ > 0)
    log::error("could not write the last outcomes before exiting; their messages will be restored after the "
               "visibility timeout and run again");
  co_await finish_events();
}

std::vector<std::string> consumer::release_held(bool include_running) {
  std::vector<std::uint64_t> seqs;
  for (auto& j : executor_->take_pending()) seqs.push_back(j.seq);
  for (auto& [seq, h] : held_)
    if (h.where == held_message::phase::waiting_eta) seqs.push_back(seq);
  if (include_running)
    for (auto& [seq, h] : held_) seqs.push_back(seq);  // whatever is left is running
  // Newest first: RPUSH puts each at the front, so the oldest ends up
  // served first again.
  std::sort(seqs.rbegin(), seqs.rend());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  std::vector<std::string> tags;
  for (auto seq : seqs) {
    auto it = held_.find(seq);
    if (it == held_.end()) continue;
    if (it->second.where == held_message::phase::waiting_eta) --eta_held_;
    // --acks-early: an acked message is no longer ours to put back.
    if (!it->second.acked_early) tags.push_back(it->second.tag);
    held_.erase(it);
  }
  return tags;
}

awaitable<void> consumer::restore_tags(std::vector<std::string> tags) {
  std::size_t restored = 0;
  for (const auto& tag : tags) {
    try {
      bool moved = co_await transport_.async_restore(tag);
      if (moved) ++restored;
    } catch (const std::exception& e) {
      log::error("could not put message {} back ({}); it returns after the visibility timeout", tag, e.what());
    }
  }
  if (restored) log::info("put {} held message(s) back on their queues", restored);
}

awaitable<void> consumer::ensure_connected(redis::connection& conn, std::string_view what) {
  while (!conn.is_connected()) {
    if (reconnecting_.count(&conn)) {
      // Another loop is already reconnecting this connection.
      asio::steady_timer t(io_);
      co_await sleep_for(t, milliseconds(20));
      continue;
    }
    reconnecting_.insert(&conn);
    try {
      log::debug("connecting to the {} at {}", what, redis::to_string(conn.settings()));
      co_await conn.async_reconnect();
    } catch (const std::exception& e) {
      log::error("{} connection: {}", what, e.what());
    }
    reconnecting_.erase(&conn);
  }
}

}  // namespace celeriac::worker
