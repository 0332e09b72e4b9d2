// The consumer's events (Celery's monitoring stream): task-* events for the
// tasks this child handles (-E, or remote enable_events), and the node's
// worker-online / worker-heartbeat / worker-offline, sent by the first
// child only, as a Celery worker sends them even without -E.
//
// Every emit_* runs on the io thread at the point where Celery's worker
// sends the same event; the stream (worker/event_stream.hpp) batches and
// publishes them on a connection of its own.

#include "worker/consumer.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "celery/event_message.hpp"
#include "util/log.hpp"

#include "worker/consumer_support.hpp"

#ifndef CELERIAC_VERSION
#error "CELERIAC_VERSION must be defined for consumer_events.cpp (worker/CMakeLists.txt)"
#endif

namespace celeriac::worker {

namespace {

// How long the last events may take to leave at exit: a cold shutdown is
// given less, its children are killed soon after.
constexpr milliseconds warm_finish_limit{2000};
constexpr milliseconds cold_finish_limit{500};

std::array<double, 3> load_average() {
  double raw[3] = {0, 0, 0};
  if (::getloadavg(raw, 3) != 3) return {0.0, 0.0, 0.0};
  return celery::rounded_load_average({raw[0], raw[1], raw[2]});
}

// platform.system(): uname's sysname ("Linux").
const std::string& system_name() {
  static const std::string name = [] {
    struct ::utsname u {};
    return ::uname(&u) == 0 ? std::string(u.sysname) : std::string("Linux");
  }();
  return name;
}

}  // namespace

void consumer::make_events() {
  events_ = std::make_unique<event_stream>(io_.get_executor(), settings_.broker,
                                           node_event_sender(settings_.node_name, ::getppid()),
                                           slots_.node_shared().event_clock, settings_.task_events);
}

void consumer::set_events_enabled(bool on) {
  if (events_->task_events_on() == on) return;
  events_->set_task_events(on);
  if (index_ == 0) log::info("Events of group {{task}} {} by remote.", on ? "enabled" : "disabled");
}

bool consumer::events_enabled() const noexcept { return events_->task_events_on(); }

// Celery's `heartbeat` command: freq 5 and the software fields only.
void consumer::request_heartbeat() {
  if (index_ != 0) return;
  log::debug("Heartbeat requested by remote.");
  events_->add_worker_event("worker-heartbeat", celery::requested_heartbeat_fields(worker_vitals_now()));
}

bool consumer::sends_worker_events() const { return index_ == 0 && settings_.worker_events; }

celery::worker_vitals consumer::worker_vitals_now() {
  celery::worker_vitals v;
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].pid.load() != 0 && slots_[i].running.load() != 0) ++v.active;
  v.processed = static_cast<std::int64_t>(slots_.started_by_task().all());
  v.loadavg = load_average();
  v.sw_ident = "celeriac";
  v.sw_ver = CELERIAC_VERSION;
  v.sw_sys = system_name();
  return v;
}

awaitable<void> consumer::events_loop() {
  if (sends_worker_events()) spawn_loop(worker_events_loop(), "worker events");
  co_await events_->async_run();
}

// Heart.start/_send: worker-online, then a heartbeat every 2 s until the
// child winds up its events (worker-offline is sent by finish_events).
awaitable<void> consumer::worker_events_loop() {
  events_->add_worker_event("worker-online", celery::worker_fields(worker_vitals_now()));
  asio::steady_timer t(io_);
  const auto interval = std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(celery::heartbeat_freq));
  while (!events_->finishing()) {
    co_await sleep_for(t, interval);
    if (events_->finishing()) break;
    events_->add_worker_event("worker-heartbeat", celery::worker_fields(worker_vitals_now()));
  }
}

// The end of a child's events. worker-offline only when the node stops
// (SIGTERM/SIGQUIT from the supervisor), not when this child is recycled
// or replaced: the node stays online.
awaitable<void> consumer::finish_events() {
  if (node_stopping_ && sends_worker_events() && !events_->finishing())
    events_->add_worker_event("worker-offline", celery::worker_fields(worker_vitals_now()));
  co_await events_->async_finish(cold_ ? cold_finish_limit : warm_finish_limit);
}

void consumer::emit_received(const held_message& h) {
  if (events_->task_events_on()) events_->add_task_event("task-received", celery::task_received_fields(h.message));
}

// Consumer.on_unknown_task: task-failed with NotRegistered, no traceback.
void consumer::emit_unknown_task(const celery::task_message& m) {
  if (!events_->task_events_on()) return;
  events_->add_task_event(
      "task-failed", celery::task_failed_fields(m.headers.id, celery::exception_text("NotRegistered", json::array{m.headers.task}),
                                                std::nullopt));
}

void consumer::emit_started(const held_message& h) {
  if (events_->task_events_on()) events_->add_task_event("task-started", celery::task_started_fields(h.message.headers.id));
}

void consumer::emit_outcome(const held_message& h, const outcome& o) {
  if (!events_->task_events_on()) return;
  const std::string& id = h.message.headers.id;
  const std::string& task = h.message.headers.task;
  if (o.terminated) {
    // Asked to stop by revoke --terminate (SIGTERM, Celery's default signal).
    events_->add_task_event("task-revoked", celery::task_revoked_fields(id, celery::revoke_flags{true, SIGTERM, false}));
    return;
  }
  switch (o.what) {
    case outcome::kind::success:
      events_->add_task_event("task-succeeded", celery::task_succeeded_fields(id, o.result, o.runtime_seconds));
      break;
    case outcome::kind::failure: {
      const json::array args = o.exc_args ? *o.exc_args : json::array{o.message};
      events_->add_task_event("task-failed",
                              celery::task_failed_fields(id, celery::exception_text(o.exc_type, args),
                                                         traceback_text(task, o.exc_type, o.message)));
      break;
    }
    case outcome::kind::retry:
      // The exception the RETRY result stores, Retry(reason).
      events_->add_task_event("task-retried",
                              celery::task_retried_fields(id, celery::exception_text("Retry", json::array{o.message}),
                                                          traceback_text(task, "Retry", o.message)));
      break;
  }
}

// Request._announce_revoked: expired, revoked before it ran, or ended by
// revoke --terminate --signal SIGKILL (its child kills itself).
void consumer::emit_revoked(const held_message& h, std::string_view reason) {
  if (!events_->task_events_on()) return;
  celery::revoke_flags how;
  if (reason == "expired") how.expired = true;
  if (reason == "terminated") how = celery::revoke_flags{true, SIGKILL, false};
  events_->add_task_event("task-revoked", celery::task_revoked_fields(h.message.headers.id, how));
}

}  // namespace celeriac::worker
