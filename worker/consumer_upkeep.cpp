// The consumer's upkeep loops: keeping held messages fresh in unacked_index,
// restoring dead workers' messages, releasing eta-held ones when due.

#include "worker/consumer.hpp"

#include <algorithm>

#include "celery/message_codec.hpp"
#include "util/clock.hpp"
#include "worker/job_outcomes.hpp"
#include "util/log.hpp"

#include "worker/consumer_support.hpp"

namespace celeriac::worker {

awaitable<void> consumer::touch_loop() {
  auto interval = std::clamp<steady_clock::duration>(settings_.visibility_timeout / 4, milliseconds(250),
                                                     std::chrono::seconds(30));
  asio::steady_timer t(io_);
  while (!(stopping_ && shutdown_complete_)) {
    co_await sleep_for(t, interval);
    std::vector<std::string> tags;
    tags.reserve(held_.size());
    for (auto& [seq, h] : held_)
      if (!h.acked_early) tags.push_back(h.tag);
    if (tags.empty()) continue;
    try {
      co_await transport_.async_touch(tags);
    } catch (const std::exception& e) {
      log::warning("could not refresh unacked_index for {} held message(s): {}", tags.size(), e.what());
    }
  }
}

awaitable<void> consumer::restore_loop() {
  auto interval = std::clamp<steady_clock::duration>(settings_.visibility_timeout / 2, std::chrono::seconds(1),
                                                     std::chrono::seconds(60));
  asio::steady_timer t(io_);
  while (!stopping_) {
    try {
      std::size_t n = co_await transport_.async_restore_visible();
      if (n > 0)
        log::warning("restored {} message(s) left unacknowledged longer than the visibility timeout ({}s)", n,
                     settings_.visibility_timeout.count());
    } catch (const std::exception& e) {
      log::warning("restoring unacknowledged messages failed: {}", e.what());
    }
    co_await sleep_for(t, interval);
  }
}

awaitable<void> consumer::eta_loop() {
  while (!stopping_) {
    if (eta_queue_.empty()) {
      eta_wake_.expires_at(forever);
    } else {
      auto delay = eta_queue_.top().first - util::wall_now();
      eta_wake_.expires_after(std::max<steady_clock::duration>(delay, steady_clock::duration::zero()));
    }
    co_await wait_on(eta_wake_);
    auto now = util::wall_now();
    while (!stopping_ && !eta_queue_.empty() && eta_queue_.top().first <= now) {
      auto seq = eta_queue_.top().second;
      eta_queue_.pop();
      auto it = held_.find(seq);
      if (it == held_.end() || it->second.where != held_message::phase::waiting_eta) continue;
      it->second.where = held_message::phase::ready;
      --eta_held_;
      make_ready(it->second);
    }
  }
}

// Moves due messages from the consumed queues' delayed sets back to the
// front of their queues. Every worker's first child does this; the script
// moves each message once, whoever runs it first.
awaitable<void> consumer::promote_loop() {
  asio::steady_timer t(io_);
  bool warned = false;
  while (!stopping_) {
    steady_clock::duration wait = std::chrono::seconds(1);
    try {
      const double now = util::unix_seconds(util::wall_now());
      auto r = co_await transport_.async_promote(now);
      if (r.moved > 0) log::info("moved {} delayed message(s) back to their queues", r.moved);
      if (r.next_due)
        wait = std::clamp<steady_clock::duration>(
            std::chrono::duration_cast<steady_clock::duration>(std::chrono::duration<double>(*r.next_due - now)),
            milliseconds(10), std::chrono::seconds(1));
      warned = false;
    } catch (const std::exception& e) {
      if (!warned) log::warning("moving due delayed messages back failed: {}; retrying", e.what());
      warned = true;
    }
    co_await sleep_for(t, wait);
  }
}

awaitable<void> consumer::job_outcomes_loop() {
  asio::steady_timer t(io_);
  while (!stopping_) {
    try {
      redis::request pop;
      pop.push("RPOP", job_outcomes_key, 100);
      auto replies = co_await broker_conn_.async_exec(pop);
      if (auto items = replies.at(0).elements()) {
        for (const auto& item : *items) {
          auto text = item.as_string();
          auto o = text ? decode_job_outcome(*text) : std::nullopt;
          auto m = o ? celery::decode_message(o->raw) : celery::decode_message("");
          if (!o || !m) {
            log::warning("ignoring an unreadable entry of {}", job_outcomes_key);
            continue;
          }
          sink_->record(*m, o->queue, o->state, nullptr, o->error);
        }
      }
    } catch (const std::exception& e) {
      log::debug("reading {} failed: {}", job_outcomes_key, e.what());
    }
    co_await sleep_for(t, std::chrono::seconds(1));
  }
}

}  // namespace celeriac::worker
