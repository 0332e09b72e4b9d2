// The consumer's fetching: the prefetch window, the fetch loop, and what
// happens to each fetched message (how an idle child wakes:
// consumer_wake.cpp).

#include "worker/consumer.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "celery/dead_letter.hpp"
#include "celery/message_codec.hpp"
#include "celery/result_meta.hpp"
#include "broker/delayed.hpp"
#include "util/log.hpp"

#include "worker/consumer_support.hpp"

namespace celeriac::worker {

std::size_t consumer::prefetch_limit() const {
  return static_cast<std::size_t>(std::max(1, settings_.prefetch_multiplier));
}

std::size_t consumer::unstarted() const { return held_.size() - eta_held_; }

// Paused, the child fetches nothing until its long task is done, on any
// path: a wake-up that fetched while paused would take back the messages
// fair dispatch just handed back, hand them back again 10 ms later, and
// so on for as long as the task ran (thousands of round trips a second).
bool consumer::wake_ups_wanted() const { return fetch_idle_ && !fetch_paused_; }

awaitable<void> consumer::fetch_loop() {
  bool warned = false;
  while (!stopping_) {
    // After a hand-back, fetch nothing until the long task is done: what
    // this child would take would wait behind it.
    if (fetch_paused_) {
      if (unstarted() > 0) {  // the long task is still held: not finished
        fetch_wake_.expires_after(std::chrono::seconds(1));
        co_await wait_on(fetch_wake_);
        continue;
      }
      fetch_paused_ = false;
    }
    sync_queues();
    // Refill only once half the prefetch is used up, so fetches come in
    // batches instead of one message per finished task.
    std::size_t in_hand = unstarted();
    if (in_hand > 0 && in_hand > prefetch_limit() / 2) {
      fetch_wake_.expires_after(std::chrono::seconds(1));
      co_await wait_on(fetch_wake_);
      continue;
    }
    std::vector<broker::fetched_message> got;
    const std::size_t asked = prefetch_limit() - in_hand;
    enum { ok, io_error, other_error } failure = ok;
    try {
      got = co_await transport_.async_fetch(asked);
      warned = false;
    } catch (const boost::system::system_error& e) {
      log::error("fetching from the broker failed: {}; reconnecting", e.what());
      failure = io_error;
    } catch (const std::exception& e) {
      if (!warned) log::error("fetching from the broker failed: {}; retrying every second", e.what());
      warned = true;
      failure = other_error;
    }
    if (failure == io_error) {
      co_await ensure_connected(broker_conn_, "broker");
      continue;
    }
    if (failure == other_error) {
      asio::steady_timer t(io_);
      co_await sleep_for(t, std::chrono::seconds(1));
      continue;
    }
    // Fewer than asked: the lists ran dry, so fetching again at once would
    // find nothing (at a trickle of messages that empty fetch was one of
    // three per message).
    const bool ran_dry = got.size() < asked;
    co_await dispatch_fetched(got);
    if (ran_dry && unstarted() <= prefetch_limit() / 2) co_await idle_until_woken();
  }
}

awaitable<void> consumer::dispatch_fetched(std::vector<broker::fetched_message>& got) {
  if (got.empty()) co_return;
  // A fetch sent before the node stopped consuming a queue can still bring
  // its messages (cancel_consumer reaches this child through shared memory,
  // and a pipelined fetch waits up to a second in Redis): they go back to
  // the front of their queue untouched, for a worker that consumes it.
  sync_queues();
  const auto& consumed = transport_.config().queues;
  std::vector<std::string> not_ours;
  in_fetch_dispatch_ = true;
  for (auto& m : got) {
    if (m.state == broker::fetched_message::status::held &&
        std::find(consumed.begin(), consumed.end(), m.queue) == consumed.end())
      not_ours.push_back(std::move(m.tag));
    else
      on_fetched(std::move(m));
  }
  in_fetch_dispatch_ = false;
  executor_->submit(std::exchange(ready_jobs_, {}));
  dispatch_wake_.cancel();
  if (turn_.held_by(index_)) poke_turn();  // a long task gives the turn up
  if (not_ours.empty()) co_return;
  // Newest first: each goes to the front, so the oldest is served first.
  std::reverse(not_ours.begin(), not_ours.end());
  co_await hand_back_tags(not_ours);
  log::info("handed {} message(s) of queues no longer consumed back to their queues", not_ours.size());
}

awaitable<void> consumer::hand_back_tags(const std::vector<std::string>& tags) {
  for (const auto& tag : tags) {
    try {
      co_await transport_.async_hand_back(tag);
    } catch (const std::exception& e) {
      log::error("could not hand message {} back ({}); the supervisor or the visibility timeout returns it", tag,
                 e.what());
    }
  }
}

// The running task's age is read from the child's shared slot (written by
// the executor thread), so checking costs no syscall and no lock.
awaitable<void> consumer::fair_dispatch_loop() {
  // Default 10 ms: longer than a typical short task, far shorter than the
  // 50 ms a short task may wait behind a long one (docs/operations.md).
  const milliseconds hand_back_after = settings_.hand_back_after;
  if (hand_back_after.count() == 0) co_return;
  while (!stopping_) {
    const std::size_t load = executor_->load();
    const bool waiting = load > (executor_->running() ? 1u : 0u);
    if (!waiting) {
      dispatch_wake_.expires_after(std::chrono::seconds(1));
      co_await wait_on(dispatch_wake_);
      continue;
    }
    const auto since = slot_.running_since();
    const auto now = steady_clock::now();
    if (!since || now - *since < hand_back_after) {
      dispatch_wake_.expires_after(since ? *since + hand_back_after - now : hand_back_after);
      co_await wait_on(dispatch_wake_);
      continue;
    }
    co_await hand_back_unstarted();
  }
}

awaitable<void> consumer::hand_back_unstarted() {
  std::vector<std::uint64_t> seqs;
  for (auto& j : executor_->take_pending()) seqs.push_back(j.seq);
  if (seqs.empty()) co_return;
  fetch_paused_ = true;
  poke_turn();
  // Newest first: each goes to the front, so the oldest is served first.
  std::sort(seqs.rbegin(), seqs.rend());
  std::vector<std::string> tags;
  for (auto seq : seqs) {
    auto it = held_.find(seq);
    if (it == held_.end()) continue;
    if (!it->second.acked_early) tags.push_back(it->second.tag);
    held_.erase(it);
  }
  log::debug("the running task has run {} ms: handing {} unstarted message(s) back for an idle child",
             slot_.running_since() ? std::chrono::duration_cast<milliseconds>(steady_clock::now() -
                                                                             *slot_.running_since())
                                         .count()
                                   : 0,
             tags.size());
  co_await hand_back_tags(tags);
}

// The fetcher only acts once half the prefetch room is free (see
// fetch_loop), so waking it earlier would only make it sleep again. An
// idle fetcher is left alone too: its last fetch found the lists empty,
// and the wake-up connections wake it as soon as that changes.
void consumer::wake_fetcher() {
  // A pause ends once nothing unstarted is held: the long task is done.
  if (fetch_paused_ && unstarted() == 0) {
    fetch_paused_ = false;
    watch_go_.cancel();  // the wake-up connections may wait again
    poke_turn();
  }
  if (fetch_idle_) {
    // A task ended: a child that gave the turn up while busy may want it
    // back, and the holder stops watching the task's age now, while this
    // thread is awake anyway, instead of waking for it 1 ms after the start.
    poke_turn();
    return;
  }
  if (unstarted() == 0 || unstarted() <= prefetch_limit() / 2) fetch_wake_.cancel();
}

void consumer::on_fetched(broker::fetched_message m) {
  if (m.state == broker::fetched_message::status::dead_lettered) {
    auto decoded = celery::decode_message(m.raw);
    std::optional<std::string> id = decoded ? std::optional(decoded->headers.id) : decoded.error().task_id;
    log::error("message in queue {} has no readable delivery tag ({} bytes); moved to {}", m.queue.str(),
               m.raw.size(), transport_.config().dead_letter_key);
    if (id && settings_.result_backend)
      add_result_json(*id, celery::encode_result_meta(celery::failure_meta(
                               *id, "DecodeError", "message has no readable delivery tag", "kombu.exceptions")));
    wake_writer();
    return;
  }
  auto decoded = celery::decode_message(m.raw);
  if (!decoded) {
    const auto& err = decoded.error();
    bool content = err.reason == celery::decode_reason::unsupported_content_type;
    refuse(m, celery::reason_code(err.reason), err.message, err.task_id, content ? "ContentDisallowed" : "DecodeError",
           "kombu.exceptions", &err);
    return;
  }
  const app::task_definition* task = registry_.find(decoded->headers.task);
  if (!task) {
    emit_unknown_task(*decoded);
    fail_unregistered_chord_member(*decoded);
    refuse(m, "unknown_task",
           fmt::format("Received unregistered task of type '{}'. The message has been ignored and discarded.",
                       decoded->headers.task),
           decoded->headers.id, "NotRegistered", "celery.exceptions", nullptr);
    return;
  }
  auto eta = decoded->eta_time();
  if (eta && *eta > util::wall_now() + settings_.eta_horizon) {
    // Due later than the horizon: it waits in Redis, not here. It comes
    // back a little before its time and is then held for the last moment,
    // so it still starts on time.
    log::debug("Task {}[{}] is due at {}: waiting in {}", decoded->headers.task, decoded->headers.id,
               util::iso8601_utc(*eta), broker::delayed_key(m.queue));
    defer(m, static_cast<int>(decoded->properties.priority), util::unix_seconds(*eta) - delayed_lead(settings_.eta_horizon));
    return;
  }
  std::uint64_t seq = next_seq_++;
  held_message& h = held_.emplace(seq, held_message{seq, std::move(m.queue), std::move(m.tag), std::move(m.raw),
                                                    std::move(*decoded), task})
                        .first->second;
  if (sink_) sink_->record(h.message, h.queue.str(), "RECEIVED", nullptr, {});
  // Celery's strategy checks for revoked and expired before it announces a
  // message: one dead on arrival sends task-revoked only (make_ready).
  const auto now = util::wall_now();
  const auto expires = h.message.expires_time();
  if (!(expires && *expires <= now) && !revoked_.contains(h.message.headers.id, now)) emit_received(h);
  if (eta && *eta > now) {
    h.where = held_message::phase::waiting_eta;
    ++eta_held_;
    eta_queue_.emplace(*eta, seq);
    eta_wake_.cancel();
    return;
  }
  make_ready(h);
}

void consumer::defer(broker::fetched_message& m, int priority, double due) {
  writes_.defers.push_back(deferral{std::move(m.tag), std::move(m.queue), priority, std::move(m.raw), due});
  wake_writer();
}

void consumer::refuse(broker::fetched_message& m, std::string_view reason, const std::string& message,
                      const std::optional<std::string>& task_id, std::string_view exc_type,
                      std::string_view exc_module, const celery::decode_error* err) {
  log::error("refused message {} from queue {}: {} (kept in {})", m.tag, m.queue.str(), message,
             transport_.config().dead_letter_key);
  auto now = util::wall_now();
  writes_.dead_letters.push_back(err ? celery::dead_letter_entry(*err, m.queue.str(), now, m.raw)
                                     : celery::dead_letter_entry(reason, message, m.queue.str(), now, m.raw));
  if (task_id && settings_.result_backend)
    add_result_json(*task_id, celery::encode_result_meta(celery::failure_meta(
                                  *task_id, exc_type, message, exc_module,
                                  traceback_text("celeriac.worker", exc_type, message))));
  writes_.acks.push_back(m.tag);
  wake_writer();
}

}  // namespace celeriac::worker
