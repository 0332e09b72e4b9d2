#pragma once
// One worker child's outgoing Celery events (lib/celery/event_message.hpp),
// published on a Redis connection of their own so that neither a slow
// Redis nor a burst of events ever holds up fetching, results or the task
// thread.
//
// Task events are buffered and leave as "task.multi" messages of up to
// 24 events (Celery's own buffer), every pending message PUBLISHed in one
// pipelined round trip; while one round trip is in flight the next batch
// fills, so the cost per task falls as the rate rises. Worker events go
// one per message, in order with the task events around them. While Redis
// is unreachable events wait (Celery's buffer_while_offline), up to a
// bound beyond which the oldest are dropped and counted.
//
// All calls on the child's io_context thread, except task_events_on(),
// which any thread may read.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "celery/event_message.hpp"
#include "json/value.hpp"
#include "redis/config.hpp"
#include "redis/connection.hpp"

namespace celeriac::worker {

// The sender fields of the node's events: its name, the local zone's
// utcoffset now, and the supervisor's pid (the node's, as `inspect stats`
// reports it), whichever process sends.
celery::event_sender node_event_sender(const std::string& node_name, long node_pid);

// One event's JSON, stamped now and with the next tick of the node's
// Lamport clock (node_state::event_clock).
std::string stamp_node_event(std::string_view type, const celery::event_sender& from,
                             std::atomic<std::int64_t>& clock, const json::object& fields);

// A message of events ready to PUBLISH: kombu's fanout channel for the
// routing key and the envelope around `body_json` (one event, or a
// task.multi list).
struct event_publication {
  std::string channel;
  std::string envelope;
};
event_publication publication_for(int db, const celery::event_sender& from, std::string_view routing_key,
                                  std::string_view body_json);

class event_stream {
public:
  // `clock`: the node's Lamport clock (shared memory), advanced once per event.
  event_stream(boost::asio::any_io_executor ex, redis::config broker, celery::event_sender sender,
               std::atomic<std::int64_t>& clock, bool task_events);

  // Task events (-E, remote enable_events/disable_events): while off,
  // add_task_event does nothing.
  bool task_events_on() const noexcept { return task_events_.load(std::memory_order_relaxed); }
  void set_task_events(bool on) noexcept { task_events_.store(on, std::memory_order_relaxed); }

  // A "task-..." event, stamped (clock, timestamp) now and sent with the
  // next batch. Does nothing while task events are off.
  void add_task_event(std::string_view type, const json::object& fields);
  // A "worker-..." event, stamped now, in a message of its own.
  void add_worker_event(std::string_view type, const json::object& fields);

  // Publishes until finish() has drained what was pending. Reconnects as
  // needed; never throws for Redis failures.
  boost::asio::awaitable<void> async_run();

  // Sends what is pending and stops async_run, waiting at most `limit`;
  // what could not be sent by then is dropped (logged).
  boost::asio::awaitable<void> async_finish(std::chrono::milliseconds limit);

  // True once async_finish was called: no more worker events are due.
  bool finishing() const noexcept { return finishing_; }

  // Events dropped because Redis was unreachable for too long.
  std::uint64_t dropped() const noexcept { return dropped_; }

private:
  std::string stamp(std::string_view type, const json::object& fields);
  void seal_task_batch();
  void enqueue(std::string_view routing_key, std::string_view body_json);
  boost::asio::awaitable<void> send_pending();

  redis::connection conn_;
  celery::event_sender sender_;
  int db_;
  std::atomic<bool> task_events_;
  std::atomic<std::int64_t>& clock_;
  std::vector<std::string> task_batch_;  // task events (JSON text) not yet in a message
  std::deque<event_publication> outbox_;
  std::uint64_t dropped_ = 0;
  boost::asio::steady_timer wake_;  // cancelled: something to send, or finishing
  bool unreachable_ = false;  // logged once per outage
  bool refused_ = false;      // a refused PUBLISH, logged once
  bool finishing_ = false;
  bool finished_ = false;
};

}  // namespace celeriac::worker
