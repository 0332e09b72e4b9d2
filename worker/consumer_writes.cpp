// The consumer's writes: batches of publishes, dead letters, results and acks
// sent to Redis, pipelined, retried until they land.

#include "worker/consumer.hpp"

#include <algorithm>
#include <memory>

#include <boost/asio/co_spawn.hpp>

#include "celery/task_message.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

#include "worker/consumer_support.hpp"

namespace celeriac::worker {

void consumer::wake_writer() { writer_wake_.cancel(); }

awaitable<void> consumer::write_loop() {
  // Up to this many batches are in flight on the (pipelining) connection
  // at once, so throughput is bound by Redis, not by round trips.
  constexpr std::size_t max_in_flight = 4;
  while (true) {
    if (writes_.empty() || writes_in_flight_ >= max_in_flight) {
      if (stopping_ && shutdown_complete_ && writes_in_flight_ == 0) break;
      // wake_writer() wakes it; the expiry is only a safety net, and a
      // long one: the child's earliest timer is re-armed in the kernel
      // (timerfd_settime) each time it is set, which a 100 ms one was,
      // twice per task at a trickle.
      writer_wake_.expires_after(std::chrono::seconds(1));
      co_await wait_on(writer_wake_);
      continue;
    }
    auto batch = std::make_shared<pending_writes>(std::exchange(writes_, {}));
    ++writes_in_flight_;
    asio::co_spawn(
        io_,
        [this, batch]() -> awaitable<void> { co_await write_batch(*batch); },
        [this](std::exception_ptr e) {
          --writes_in_flight_;
          if (e) {
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              log::error("writing a batch of outcomes failed: {}; their messages stay unacked and will be "
                         "restored",
                         ex.what());
            }
          }
          wake_writer();
          done_wake_.cancel();
        });
  }
}

// Publishes follow-up messages first (Celery publishes the next chain step
// before storing the result), then stores results and acks in one step.
// A failure retries from the first step not yet done, so at worst a
// follow-up message is published twice, never lost.
awaitable<void> consumer::write_batch(pending_writes& batch) {
  bool published = batch.publishes.empty() && batch.dead_letters.empty();
  bool chord_values_written = batch.chord_values.empty();
  std::size_t deferred = 0;
  std::size_t chords_joined = 0;
  bool stored_elsewhere = !backend_transport_ || batch.results.empty();
  // Named empty vectors: g++ 12 destroys a temporary created inside a
  // co_await expression twice.
  static const std::vector<broker::result_write> no_results;
  static const std::vector<std::string> no_acks;
  for (int attempt = 0;; ++attempt) {
    try {
      if (!chord_values_written) {  // before a chord's header is sent
        co_await write_chord_values(batch);
        chord_values_written = true;
      }
      if (!published) {
        redis::request req;
        for (auto& [m, envelope] : batch.publishes) {
          std::string why;
          auto q = broker::queue_name::make(m.properties.delivery_info.routing_key, &why);
          if (!q) {
            log::error("follow-up task {}[{}] names queue '{}' ({}); sending it to '{}' instead", m.headers.task,
                       m.headers.id, m.properties.delivery_info.routing_key, why, celery::default_queue);
            q = broker::queue_name::make(celery::default_queue);
          }
          // A retry with a countdown beyond the horizon waits in Redis.
          if (auto eta = m.eta_time(); eta && *eta > util::wall_now() + settings_.eta_horizon)
            transport_.add_delayed_publish(req, *q, static_cast<int>(m.properties.priority), envelope,
                                           util::unix_seconds(*eta) - delayed_lead(settings_.eta_horizon));
          else
            transport_.add_publish(req, *q, static_cast<int>(m.properties.priority), envelope);
        }
        for (auto& entry : batch.dead_letters) req.push("LPUSH", transport_.config().dead_letter_key, entry);
        auto replies = co_await broker_conn_.async_exec(req);
        for (auto& r : replies)
          if (r.is_error()) log::error("Redis refused a publish: {}", r.error_message());
        published = true;
      }
      while (deferred < batch.defers.size()) {
        const auto& d = batch.defers[deferred];
        co_await transport_.async_defer(d.tag, d.queue, d.priority, d.raw, d.due);
        ++deferred;
      }
      co_await write_chord_parts(batch, chords_joined);
      if (!stored_elsewhere) {
        co_await backend_transport_->async_complete(batch.results, no_acks, settings_.result_expires);
        stored_elsewhere = true;
      }
      co_await transport_.async_complete(backend_transport_ ? no_results : batch.results, batch.acks,
                                         settings_.result_expires);
      co_return;
    } catch (const std::exception& e) {
      if (attempt == 0 || attempt % 50 == 0)
        log::error("writing results/acks failed: {}; retrying (the messages stay unacked meanwhile)", e.what());
    }
    if (cold_ && attempt > 3) co_return;  // a cold shutdown does not wait for a dead server
    co_await ensure_connected(broker_conn_, "broker");
    if (backend_conn_) co_await ensure_connected(*backend_conn_, "result backend");
    asio::steady_timer t(io_);
    co_await sleep_for(t, milliseconds(std::min(1000, 20 * (attempt + 1))));
  }
}

}  // namespace celeriac::worker
