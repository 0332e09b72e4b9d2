#include "worker/consumer.hpp"

#include <algorithm>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "celery/canvas.hpp"
#include "celery/dead_letter.hpp"
#include "celery/message_codec.hpp"
#include "celery/py_repr.hpp"
#include "celery/result_meta.hpp"
#include "util/log.hpp"
#include "worker/follow_up.hpp"

namespace celeriac::worker {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr auto wait_token = asio::as_tuple(asio::use_awaitable);
constexpr auto forever = steady_clock::time_point::max();

// Waits on a timer used as an event: returns when it expires or is
// cancelled (a wake-up), whichever comes first.
awaitable<void> wait_on(asio::steady_timer& t) { co_await t.async_wait(wait_token); }

awaitable<void> sleep_for(asio::steady_timer& t, steady_clock::duration d) {
  t.expires_after(d);
  co_await t.async_wait(wait_token);
}

std::string result_key(std::string_view task_id) { return fmt::format("celery-task-meta-{}", task_id); }

std::string shorten(std::string s, std::size_t max = 256) {
  if (s.size() > max) {
    s.resize(max);
    s += "...";
  }
  return s;
}

// The traceback text stored with a FAILURE. A C++ task has no Python
// frames; this keeps the shape Python tools print, naming the task.
std::string traceback_text(std::string_view task, std::string_view exc_type, std::string_view message) {
  return fmt::format("Traceback (most recent call last):\n  File \"celeriac\", in {}\n{}: {}\n", task, exc_type,
                     message);
}

}  // namespace

consumer::consumer(asio::io_context& io, const worker_settings& settings, const app::task_registry& registry,
                   int child_index, lifecycle_sink* sink)
    : io_(io),
      settings_(settings),
      registry_(registry),
      index_(child_index),
      sink_(sink),
      broker_conn_(io.get_executor(), settings.broker),
      transport_(broker_conn_, broker::transport_config{settings.queues, settings.visibility_timeout}),
      fetch_wake_(io),
      watch_go_(io),
      writer_wake_(io),
      eta_wake_(io),
      done_wake_(io) {
  watch_go_.expires_at(forever);
  if (settings_.result_backend && !settings_.results_on_broker()) {
    backend_conn_ = std::make_unique<redis::connection>(io.get_executor(), *settings_.result_backend);
    backend_transport_ = std::make_unique<broker::kombu_transport>(
        *backend_conn_, broker::transport_config{settings.queues, settings.visibility_timeout});
  }
  for (std::size_t i = 0; i < transport_.watched_lists().size(); ++i)
    watch_conns_.push_back(std::make_unique<redis::connection>(io.get_executor(), settings.broker));

  auto post_outcome = [this](std::vector<outcome> batch) {
    asio::post(io_, [this, batch = std::move(batch)]() mutable {
      for (auto& o : batch) on_outcome(std::move(o));
      wake_writer();
      wake_fetcher();
    });
  };
  executor::start_callback on_start;
  if (sink_ || settings_.acks_early)
    on_start = [this](std::uint64_t seq) { asio::post(io_, [this, seq] { on_started(seq); }); };
  app::task_context::progress_sink progress;
  if (sink_) progress = [this](const app::task_request& r, const app::progress_report& p) { sink_->progress(r, p); };
  executor_ = std::make_unique<executor>(std::move(post_outcome), std::move(on_start), std::move(progress));
}

consumer::~consumer() = default;

// ---------------------------------------------------------------------------
// Running and stopping
// ---------------------------------------------------------------------------

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

  auto spawn = [this](awaitable<void> loop, const char* name) {
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
  };
  spawn(fetch_loop(), "fetch");
  spawn(write_loop(), "write");
  spawn(touch_loop(), "heartbeat");
  spawn(eta_loop(), "eta");
  if (index_ == 0) spawn(restore_loop(), "restore");
  for (std::size_t i = 0; i < watch_conns_.size(); ++i) spawn(watch_list(i), "wake-up");

  while (!(stopping_ && shutdown_complete_)) {
    done_wake_.expires_at(forever);
    co_await wait_on(done_wake_);
  }
  co_return failed_ ? 1 : 0;
}

void consumer::warm_shutdown() { begin_shutdown(false); }
void consumer::cold_shutdown() { begin_shutdown(true); }

void consumer::begin_shutdown(bool cold) {
  if (stopping_ && (cold_ || !cold)) return;
  bool first = !stopping_;
  stopping_ = true;
  if (cold) {
    cold_ = true;
    executor_->request_stop();
  }
  for (auto* t : {&fetch_wake_, &watch_go_, &writer_wake_, &eta_wake_, &done_wake_}) t->cancel();
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

// ---------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------

std::size_t consumer::prefetch_limit() const {
  return static_cast<std::size_t>(std::max(1, settings_.prefetch_multiplier));
}

std::size_t consumer::unstarted() const { return held_.size() - eta_held_; }

awaitable<void> consumer::fetch_loop() {
  bool warned = false;
  while (!stopping_) {
    // Refill only once half the prefetch is used up, so fetches come in
    // batches instead of one message per finished task.
    std::size_t in_hand = unstarted();
    if (in_hand > 0 && in_hand > prefetch_limit() / 2) {
      fetch_wake_.expires_after(std::chrono::seconds(1));
      co_await wait_on(fetch_wake_);
      continue;
    }
    std::vector<broker::fetched_message> got;
    enum { ok, io_error, other_error } failure = ok;
    try {
      got = co_await transport_.async_fetch(prefetch_limit() - in_hand);
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
    if (got.empty()) {
      // Idle: let the wake-up connections block on the lists, and sleep
      // until one sees a message (or a second passes).
      fetch_idle_ = true;
      watch_go_.cancel();
      fetch_wake_.expires_after(std::chrono::seconds(1));
      co_await wait_on(fetch_wake_);
      fetch_idle_ = false;
      continue;
    }
    in_fetch_dispatch_ = true;
    for (auto& m : got) on_fetched(std::move(m));
    in_fetch_dispatch_ = false;
    executor_->submit(std::exchange(ready_jobs_, {}));
  }
}

// Blocks on one list with BLMOVE list list RIGHT RIGHT: a rotation of the
// list onto itself that changes nothing, used only to learn that the list
// has a message, while the fetch itself stays an atomic script (Redis
// refuses blocking commands inside scripts).
awaitable<void> consumer::watch_list(std::size_t index) {
  redis::connection& conn = *watch_conns_[index];
  const std::string list = transport_.watched_lists()[index];
  redis::request req;
  req.push("BLMOVE", list, list, "RIGHT", "RIGHT", 1);
  while (!stopping_) {
    if (!fetch_idle_) {
      // Several watchers share this timer: its expiry is set once, in the
      // constructor, because setting it would cancel the others' waits.
      co_await wait_on(watch_go_);
      continue;
    }
    if (!conn.is_connected()) {
      co_await ensure_connected(conn, "broker (wake-up)");
      continue;
    }
    try {
      auto replies = co_await conn.async_exec(req);
      if (replies.at(0).is_error()) {
        log::error("waiting on {} failed: {}", list, replies[0].error_message());
        asio::steady_timer t(io_);
        co_await sleep_for(t, std::chrono::seconds(1));
      } else if (!replies[0].is_nil()) {
        fetch_wake_.cancel();
      }
    } catch (const std::exception& e) {
      if (!stopping_) log::debug("wake-up connection for {}: {}", list, e.what());
    }
  }
}

// The fetcher only acts once half the prefetch room is free (see
// fetch_loop), so waking it earlier would only make it sleep again.
void consumer::wake_fetcher() {
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
    refuse(m, "unknown_task",
           fmt::format("Received unregistered task of type '{}'. The message has been ignored and discarded.",
                       decoded->headers.task),
           decoded->headers.id, "NotRegistered", "celery.exceptions", nullptr);
    return;
  }
  std::uint64_t seq = next_seq_++;
  held_message& h = held_.emplace(seq, held_message{seq, std::move(m.queue), std::move(m.tag), std::move(m.raw),
                                                    std::move(*decoded), task})
                        .first->second;
  if (sink_) sink_->record(h.message, h.queue.str(), "RECEIVED", nullptr, {});
  auto eta = h.message.eta_time();
  if (eta && *eta > util::wall_now()) {
    h.where = held_message::phase::waiting_eta;
    ++eta_held_;
    eta_queue_.emplace(*eta, seq);
    eta_wake_.cancel();
    return;
  }
  make_ready(h);
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

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

void consumer::make_ready(held_message& h) {
  const auto& m = h.message;
  if (auto expires = m.expires_time(); expires && *expires <= util::wall_now()) {
    log::info("Task {}[{}] expired at {}; not run (REVOKED)", m.headers.task, m.headers.id, *m.headers.expires);
    if (sink_) sink_->record(m, h.queue.str(), "REVOKED", nullptr, "expired");
    std::string meta;
    if (wants_result(h))
      meta = celery::encode_result_meta(celery::revoked_meta(m.headers.id, "expired", celery::meta_context_for(m)));
    finish(h, std::move(meta));
    wake_writer();
    wake_fetcher();
    return;
  }
  h.where = held_message::phase::ready;
  job j;
  j.seq = h.seq;
  j.task = h.task;
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
  if (!in_fetch_dispatch_) executor_->submit(std::exchange(ready_jobs_, {}));
}

void consumer::on_started(std::uint64_t seq) {
  auto it = held_.find(seq);
  if (it == held_.end()) return;
  held_message& h = it->second;
  h.where = held_message::phase::running;
  if (sink_) sink_->record(h.message, h.queue.str(), "STARTED", nullptr, {});
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
  celery::meta_context ctx = celery::meta_context_for(m);
  std::string meta;
  if (!m.embed.chord.is_null())
    log::error("Task {}[{}] is a chord header task: celeriac does not count chord parts yet, so the chord's "
               "body will not be called (see docs/compatibility.md)",
               m.headers.task, m.headers.id);
  switch (o.what) {
    case outcome::kind::success: {
      if (log::enabled(log::level::info))
        log::info("Task {}[{}] succeeded in {:.6f}s: {}", m.headers.task, m.headers.id, o.runtime_seconds,
                  shorten(celery::py_repr(o.result)));
      if (auto next = celery::next_chain_message(m, o.result); !next) {
        log::error("Task {}[{}]: could not build the next chain step: {}", m.headers.task, m.headers.id,
                   next.error().message);
      } else if (*next) {
        ctx.children.push_back(celery::child_result((*next)->headers.id));
        add_publish(std::move(**next));
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
      if (o.bad_arguments) {
        log::error("Task {}[{}]: arguments do not fit the task; message kept in {}", m.headers.task, m.headers.id,
                   transport_.config().dead_letter_key);
        writes_.dead_letters.push_back(
            celery::dead_letter_entry("bad_arguments", o.message, h.queue.str(), util::wall_now(), h.raw));
      }
      if (sink_) sink_->record(m, h.queue.str(), "FAILURE", nullptr, fmt::format("{}: {}", o.exc_type, o.message));
      if (wants_result(h))
        meta = celery::encode_result_meta(celery::failure_meta(m.headers.id, o.exc_type, o.message, o.exc_module,
                                                               traceback_text(m.headers.task, o.exc_type, o.message),
                                                               std::move(ctx)));
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
  finish(h, std::move(meta));
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

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

void consumer::wake_writer() { writer_wake_.cancel(); }

awaitable<void> consumer::write_loop() {
  // Up to this many batches are in flight on the (pipelining) connection
  // at once, so throughput is bound by Redis, not by round trips.
  constexpr std::size_t max_in_flight = 4;
  while (true) {
    if (writes_.empty() || writes_in_flight_ >= max_in_flight) {
      if (stopping_ && shutdown_complete_ && writes_in_flight_ == 0) break;
      writer_wake_.expires_after(milliseconds(100));
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
  bool stored_elsewhere = !backend_transport_ || batch.results.empty();
  // Named empty vectors: g++ 12 destroys a temporary created inside a
  // co_await expression twice.
  static const std::vector<broker::result_write> no_results;
  static const std::vector<std::string> no_acks;
  for (int attempt = 0;; ++attempt) {
    try {
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
          transport_.add_publish(req, *q, static_cast<int>(m.properties.priority), envelope);
        }
        for (auto& entry : batch.dead_letters) req.push("LPUSH", transport_.config().dead_letter_key, entry);
        auto replies = co_await broker_conn_.async_exec(req);
        for (auto& r : replies)
          if (r.is_error()) log::error("Redis refused a publish: {}", r.error_message());
        published = true;
      }
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

// ---------------------------------------------------------------------------
// Keeping held messages fresh, restoring dead workers' messages, eta
// ---------------------------------------------------------------------------

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

}  // namespace celeriac::worker
