#include "worker/event_stream.hpp"

#include <time.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/uuid.hpp"

namespace celeriac::worker {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

constexpr auto wake_token = asio::as_tuple(asio::use_awaitable);

// Messages kept while Redis is unreachable: at up to 24 task events each,
// tens of thousands of events, a few minutes of a busy child.
constexpr std::size_t max_pending_messages = 2048;

redis::config stream_settings(redis::config c) {
  c.client_name = "celeriac-events";
  return c;
}

}  // namespace

celery::event_sender node_event_sender(const std::string& node_name, long node_pid) {
  const ::time_t now = ::time(nullptr);
  struct ::tm local {};
  ::localtime_r(&now, &local);
  return celery::event_sender{node_name, celery::utcoffset_hours(local.tm_gmtoff), node_pid};
}

event_stream::event_stream(asio::any_io_executor ex, redis::config broker, celery::event_sender sender,
                           std::atomic<std::int64_t>& clock, bool task_events)
    : conn_(ex, stream_settings(broker)),
      sender_(std::move(sender)),
      db_(broker.db),
      task_events_(task_events),
      clock_(clock),
      wake_(ex) {
  wake_.expires_at(std::chrono::steady_clock::time_point::max());
}

std::string stamp_node_event(std::string_view type, const celery::event_sender& from,
                             std::atomic<std::int64_t>& clock, const json::object& fields) {
  const std::int64_t tick = clock.fetch_add(1, std::memory_order_relaxed) + 1;
  return celery::event_json(type, from, tick, util::unix_seconds(util::wall_now()), fields);
}

event_publication publication_for(int db, const celery::event_sender& from, std::string_view routing_key,
                                  std::string_view body_json) {
  return {celery::event_channel(db, routing_key),
          celery::encode_event_message(body_json, from.hostname, routing_key, util::uuid4())};
}

std::string event_stream::stamp(std::string_view type, const json::object& fields) {
  return stamp_node_event(type, sender_, clock_, fields);
}

void event_stream::add_task_event(std::string_view type, const json::object& fields) {
  if (!task_events_on() || finished_) return;
  task_batch_.push_back(stamp(type, fields));
  if (task_batch_.size() >= celery::event_buffer_limit) seal_task_batch();
  wake_.cancel();
}

void event_stream::add_worker_event(std::string_view type, const json::object& fields) {
  if (finished_) return;
  seal_task_batch();  // the task events before it go first
  enqueue(celery::event_routing_key(type), stamp(type, fields));
  wake_.cancel();
}

void event_stream::seal_task_batch() {
  if (task_batch_.empty()) return;
  enqueue(celery::task_multi_routing_key, celery::event_list_json(task_batch_));
  task_batch_.clear();
}

void event_stream::enqueue(std::string_view routing_key, std::string_view body_json) {
  if (outbox_.size() >= max_pending_messages) {
    if (dropped_ == 0)
      log::warning("events: {} messages wait for Redis; dropping the oldest until it answers again",
                   outbox_.size());
    outbox_.pop_front();
    ++dropped_;
  }
  outbox_.push_back(publication_for(db_, sender_, routing_key, body_json));
}

awaitable<void> event_stream::async_run() {
  while (!finished_) {
    seal_task_batch();
    if (outbox_.empty()) {
      if (finishing_) break;
      wake_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await wake_.async_wait(wake_token);
      continue;
    }
    co_await send_pending();
  }
  finished_ = true;
}

// One round trip for everything pending. On failure the messages go back
// to the front, in order, and the connection is re-established first.
awaitable<void> event_stream::send_pending() {
  if (!conn_.is_connected()) {
    std::string failure;
    try {
      co_await conn_.async_connect();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      if (!unreachable_)
        log::warning("events: cannot reach Redis ({}); events wait until it answers", failure);
      unreachable_ = true;
      asio::steady_timer t(conn_.get_executor());
      t.expires_after(std::chrono::seconds(1));
      co_await t.async_wait(wake_token);
      co_return;
    }
    if (unreachable_) log::info("events: Redis answers again; sending the {} waiting message(s)", outbox_.size());
    unreachable_ = false;
  }
  std::vector<event_publication> sending(std::make_move_iterator(outbox_.begin()), std::make_move_iterator(outbox_.end()));
  outbox_.clear();
  redis::request req;
  for (const auto& m : sending) req.push("PUBLISH", m.channel, m.envelope);
  try {
    const auto replies = co_await conn_.async_exec(req);
    for (const auto& r : replies)
      if (r.is_error() && !refused_) {
        refused_ = true;  // once: the same refusal would repeat for every batch
        log::error("events: Redis refused to publish an event: {}", r.error_message());
      }
    dropped_ = 0;
  } catch (const std::exception& e) {
    log::warning("events: publishing {} message(s) failed: {}; they are sent again once Redis answers",
                 sending.size(), e.what());
    outbox_.insert(outbox_.begin(), std::make_move_iterator(sending.begin()), std::make_move_iterator(sending.end()));
    while (outbox_.size() > max_pending_messages) {
      outbox_.pop_front();
      ++dropped_;
    }
  }
}

awaitable<void> event_stream::async_finish(std::chrono::milliseconds limit) {
  finishing_ = true;
  wake_.cancel();
  asio::steady_timer t(conn_.get_executor());
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!finished_ && std::chrono::steady_clock::now() < deadline) {
    t.expires_after(std::chrono::milliseconds(5));
    co_await t.async_wait(wake_token);
  }
  if (!finished_) {
    const std::size_t left = outbox_.size() + (task_batch_.empty() ? 0 : 1);
    if (left) log::warning("events: {} message(s) not sent before exit (Redis did not answer in time)", left);
    finished_ = true;
    conn_.close();
    wake_.cancel();
  }
}

}  // namespace celeriac::worker
