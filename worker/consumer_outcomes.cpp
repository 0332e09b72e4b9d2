// The consumer's outcomes: a held message made ready to run, started, and
// turned into follow-up messages, a result and an ack when it finishes.

#include "worker/consumer.hpp"

#include <fmt/format.h>

#include "celery/canvas.hpp"
#include "celery/dead_letter.hpp"
#include "celery/message_codec.hpp"
#include "celery/py_repr.hpp"
#include "celery/result_meta.hpp"
#include "util/log.hpp"
#include "worker/follow_up.hpp"
#include "worker/metrics_hooks.hpp"
#include "worker/process_memory.hpp"
#include "worker/time_limits.hpp"

#include "worker/consumer_support.hpp"

namespace celeriac::worker {

void consumer::make_ready(held_message& h) {
  const auto& m = h.message;
  if (auto expires = m.expires_time(); expires && *expires <= util::wall_now()) {
    log::info("Task {}[{}] expired at {}; not run (REVOKED)", m.headers.task, m.headers.id, *m.headers.expires);
    if (sink_) sink_->record(m, h.queue.str(), "REVOKED", nullptr, "expired");
    emit_revoked(h, "expired");
    count_task_revoked(m.headers.task);
    std::string meta;
    if (wants_result(h))
      meta = celery::encode_result_meta(celery::revoked_meta(m.headers.id, "expired", celery::meta_context_for(m)));
    meta = join_chord(h, chord_part_revoked(h, "expired"), std::move(meta));
    finish(h, std::move(meta));
    wake_writer();
    wake_fetcher();
    return;
  }
  if (revoked_.contains(m.headers.id, util::wall_now())) {
    finish_revoked(h, "revoked");
    return;
  }
  if (!h.admitted) {
    if (rates_.find(m.headers.task)) {
      // Not runnable until Redis admits it (admission_loop); meanwhile it
      // does not count against the prefetch, like an eta-held message.
      if (h.where != held_message::phase::waiting_eta) ++eta_held_;
      h.where = held_message::phase::waiting_eta;
      admission_queue_.push_back(h.seq);
      admission_wake_.cancel();
      return;
    }
    h.admitted = true;
  }
  h.where = held_message::phase::ready;
  job j;
  j.seq = h.seq;
  j.delivery_tag = h.tag;
  j.task = h.task;
  sync_time_limits();
  app::task_options scratch;
  const time_limits limits = resolve_time_limits(m, options_for(h, scratch), settings_);
  j.hard_limit = limits.hard;
  j.soft_limit = limits.soft;
  j.request.id = m.headers.id;
  j.request.name = m.headers.task;
  j.request.queue = h.queue.str();
  j.request.retries = static_cast<int>(m.headers.retries);
  j.request.max_retries = h.task->options.max_retries;
  j.request.root_id = m.root_id_or_id();
  j.request.parent_id = m.headers.parent_id.value_or("");
  j.request.group = m.headers.group.value_or("");
  j.request.redelivered = m.redelivered();
  j.request.worker = settings_.node_name;
  j.args = m.args;
  j.kwargs = m.kwargs;
  // Collected and handed to the executor in one go per fetch (see
  // fetch_loop); messages released by the eta loop go at once.
  ready_jobs_.push_back(std::move(j));
  if (!in_fetch_dispatch_) {
    executor_->submit(std::exchange(ready_jobs_, {}));
    if (turn_.held_by(index_)) poke_turn();
  }
}

void consumer::on_started(std::uint64_t seq) {
  auto it = held_.find(seq);
  if (it == held_.end()) return;
  held_message& h = it->second;
  h.where = held_message::phase::running;
  emit_started(h);
  if (settings_.acks_early && !h.acked_early) {
    h.acked_early = true;
    writes_.acks.push_back(h.tag);
    wake_writer();
  }
}

bool consumer::wants_result(const held_message& h) const {
  return settings_.result_backend && !h.message.headers.ignore_result && !h.task->options.ignore_result;
}

void consumer::on_outcome(outcome o) {
  auto it = held_.find(o.seq);
  if (it == held_.end()) return;  // put back by a cold shutdown meanwhile: not ours any more
  held_message& h = it->second;
  const celery::task_message& m = h.message;
  count_task_outcome(m.headers.task, o);
  emit_outcome(h, o);
  celery::meta_context ctx = celery::meta_context_for(m);
  std::string meta;
  std::optional<celery::chord_part> chord = chord_part_for(h, o);
  if (o.terminated) {
    // Revoked with terminate while it ran: REVOKED, whatever it returned.
    log::info("Task {}[{}] terminated (revoked)", m.headers.task, m.headers.id);
    if (sink_) sink_->record(m, h.queue.str(), "REVOKED", nullptr, "terminated");
    if (wants_result(h))
      meta = celery::encode_result_meta(celery::revoked_meta(m.headers.id, "terminated", std::move(ctx)));
    finish(h, join_chord(h, std::move(chord), std::move(meta)));
    check_recycle();
    return;
  }
  switch (o.what) {
    case outcome::kind::success: {
      if (log::enabled(log::level::info))
        log::info("Task {}[{}] succeeded in {:.6f}s: {}", m.headers.task, m.headers.id, o.runtime_seconds,
                  shorten(celery::py_repr(o.result)));
      if (auto next = celery::next_chain_publication(m, o.result); !next) {
        log::error("Task {}[{}]: could not build the next chain step: {}", m.headers.task, m.headers.id,
                   next.error().message);
      } else {
        for (auto& child : next->trail) ctx.children.push_back(std::move(child));
        add_publication(std::move(*next));
      }
      if (auto callbacks = celery::callback_messages(m, o.result); !callbacks) {
        log::error("Task {}[{}]: could not build its link callbacks: {}", m.headers.task, m.headers.id,
                   callbacks.error().message);
      } else {
        for (auto& cb : *callbacks) add_publish(std::move(cb));
      }
      for (auto& f : o.follow_ups) add_publish(follow_up_message(m, h.queue, std::move(f)));
      if (sink_) sink_->record(m, h.queue.str(), "SUCCESS", o.result, {});
      if (wants_result(h))
        meta = celery::encode_result_meta(celery::success_meta(m.headers.id, std::move(o.result), std::move(ctx)));
      break;
    }
    case outcome::kind::failure: {
      log::error("Task {}[{}] raised unexpected: {}('{}') after {:.6f}s", m.headers.task, m.headers.id, o.exc_type,
                 shorten(o.message), o.runtime_seconds);
      if (auto errbacks = celery::errback_messages(m); !errbacks) {
        log::error("Task {}[{}]: could not build its link_error errbacks: {}", m.headers.task, m.headers.id,
                   errbacks.error().message);
      } else {
        for (auto& eb : *errbacks) add_publish(std::move(eb));
      }
      fail_chain_steps(h, o);
      if (o.bad_arguments) {
        log::error("Task {}[{}]: arguments do not fit the task; message kept in {}", m.headers.task, m.headers.id,
                   transport_.config().dead_letter_key);
        writes_.dead_letters.push_back(
            celery::dead_letter_entry("bad_arguments", o.message, h.queue.str(), util::wall_now(), h.raw));
      }
      if (sink_) sink_->record(m, h.queue.str(), "FAILURE", nullptr, fmt::format("{}: {}", o.exc_type, o.message));
      if (wants_result(h))
        meta = celery::encode_result_meta(
            failure_meta_of(m.headers.id, o, traceback_text(m.headers.task, o.exc_type, o.message), std::move(ctx)));
      break;
    }
    case outcome::kind::retry: {
      double countdown = std::chrono::duration<double>(o.retry_countdown).count();
      log::info("Task {}[{}] retry: Retry in {}s: {}", m.headers.task, m.headers.id, countdown, o.message);
      add_publish(celery::retry_message(m, celery::retry_options{.countdown = countdown}));
      if (sink_) sink_->record(m, h.queue.str(), "RETRY", nullptr, o.message);
      if (wants_result(h)) {
        ctx.children.push_back(celery::child_result(m.headers.id));
        meta = celery::encode_result_meta(celery::retry_meta(
            m.headers.id, json::object{{"exc_type", "Retry"}, {"exc_message", json::array{o.message}},
                                       {"exc_module", "celery.exceptions"}},
            traceback_text(m.headers.task, "Retry", o.message), std::move(ctx)));
      }
      break;
    }
  }
  finish(h, join_chord(h, std::move(chord), std::move(meta)));
  check_recycle();
}

void consumer::check_recycle() {
  ++tasks_done_;
  if (stopping_) return;
  if (settings_.max_tasks_per_child > 0 && tasks_done_ >= static_cast<std::uint64_t>(settings_.max_tasks_per_child)) {
    log::info("this child ran {} tasks (--max-tasks-per-child): stopping so the supervisor starts a fresh one",
              tasks_done_);
    begin_shutdown(false);
    return;
  }
  if (settings_.max_memory_per_child_kib > 0) {
    auto kib = resident_kib();
    if (kib && *kib > settings_.max_memory_per_child_kib) {
      log::warning("this child uses {} KiB, over --max-memory-per-child {} KiB: stopping so the supervisor starts "
                   "a fresh one",
                   *kib, settings_.max_memory_per_child_kib);
      begin_shutdown(false);
    }
  }
}

void consumer::finish(held_message& h, std::string result_meta_json) {
  if (!result_meta_json.empty()) add_result_json(h.message.headers.id, std::move(result_meta_json));
  if (!h.acked_early) writes_.acks.push_back(h.tag);
  if (h.where == held_message::phase::waiting_eta) --eta_held_;
  const std::uint64_t seq = h.seq;  // erase() must not read a key it is destroying
  held_.erase(seq);
}

void consumer::add_publish(celery::task_message m) {
  std::string envelope = celery::encode_message(m);
  writes_.publishes.emplace_back(std::move(m), std::move(envelope));
}

void consumer::add_result_json(const std::string& task_id, std::string meta) {
  writes_.results.push_back(broker::result_write{result_key(task_id), std::move(meta)});
}

}  // namespace celeriac::worker
