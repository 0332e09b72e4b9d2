// The consumer's remote control: Celery's pidbox broadcasts addressed to
// this node (revoke, ping), and the revoked ids kept in Redis so that a
// worker started after a revoke still honours it.
//
// Every child listens (each must drop or stop its own messages); only the
// first child replies, so a node answers once, as a Celery worker does.

#include "worker/consumer.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <fmt/format.h>

#include "broker/revoked_store.hpp"
#include "celery/result_meta.hpp"
#include "celery/revoke_request.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "worker/consumer_support.hpp"

namespace celeriac::worker {

namespace {

// How long a task asked to stop (revoke --terminate with SIGTERM) may take
// before its child is killed.
constexpr std::chrono::seconds terminate_grace{5};

}  // namespace

void consumer::finish_revoked(held_message& h, std::string_view reason) {
  const auto& m = h.message;
  log::info("Discarding revoked task: {}[{}]", m.headers.task, m.headers.id);
  if (sink_) sink_->record(m, h.queue.str(), "REVOKED", nullptr, std::string(reason));
  std::string meta;
  if (wants_result(h))
    meta = celery::encode_result_meta(celery::revoked_meta(m.headers.id, reason, celery::meta_context_for(m)));
  finish(h, std::move(meta));
  wake_writer();
  wake_fetcher();
}

std::vector<std::string> consumer::apply_revoke(const std::vector<std::string>& ids, bool terminate, int signal) {
  const auto expires = util::wall_now() + settings_.revoked_expires;
  for (const auto& id : ids) revoked_.add(id, expires);
  // Not started: out of the executor's queue, the eta and admission waits.
  std::vector<job> keep;
  std::vector<std::uint64_t> dropped;
  for (auto& j : executor_->take_pending()) {
    if (std::find(ids.begin(), ids.end(), j.request.id) != ids.end())
      dropped.push_back(j.seq);
    else
      keep.push_back(std::move(j));
  }
  executor_->submit(std::move(keep));
  for (auto& [seq, h] : held_)
    if (h.where == held_message::phase::waiting_eta &&
        std::find(ids.begin(), ids.end(), h.message.headers.id) != ids.end())
      dropped.push_back(seq);
  for (auto seq : dropped)
    if (auto it = held_.find(seq); it != held_.end()) finish_revoked(it->second, "revoked");
  // Running.
  std::vector<std::string> terminated;
  const std::uint64_t running = executor_->running();
  if (terminate && running)
    if (auto it = held_.find(running);
        it != held_.end() && std::find(ids.begin(), ids.end(), it->second.message.headers.id) != ids.end()) {
      terminated.push_back(it->second.message.headers.id);
      asio::co_spawn(io_, terminate_running(running, signal), asio::detached);
    }
  return terminated;
}

// SIGTERM (Celery's default): the task is asked to stop (should_stop(),
// checkpoint() throws) and its outcome is stored REVOKED; one that does not
// stop within the grace, or SIGKILL at once, ends with its child: REVOKED is
// stored and the message acked first, then the child kills itself and the
// supervisor hands its other messages back.
awaitable<void> consumer::terminate_running(std::uint64_t seq, int signal) {
  auto it = held_.find(seq);
  if (it == held_.end()) co_return;
  const std::string id = it->second.message.headers.id;
  if (signal != SIGKILL && executor_->request_stop_current(seq)) {
    log::info("Terminating {}[{}] (revoked): asking it to stop", it->second.message.headers.task, id);
    asio::steady_timer t(io_);
    const auto deadline = steady_clock::now() + terminate_grace;
    while (steady_clock::now() < deadline && held_.count(seq)) co_await sleep_for(t, milliseconds(20));
    if (!held_.count(seq)) co_return;  // it stopped: on_outcome stored REVOKED
  }
  it = held_.find(seq);
  if (it == held_.end()) co_return;
  log::warning("Terminating {}[{}] (revoked): killing this child (signal {})", it->second.message.headers.task, id,
               signal);
  finish_revoked(it->second, "terminated");
  asio::steady_timer t(io_);
  const auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while ((!writes_.empty() || writes_in_flight_ > 0) && steady_clock::now() < deadline) {
    wake_writer();
    co_await sleep_for(t, milliseconds(5));
  }
  std::fflush(nullptr);
  ::kill(::getpid(), SIGKILL);
}

awaitable<void> consumer::control_loop() {
  pidbox_ = std::make_unique<broker::pidbox_node>(io_.get_executor(), settings_.broker, settings_.node_name);
  co_await pidbox_->async_start();
  broker::revoked_store store(broker_conn_);
  while (!stopping_) {
    celery::control_request req = co_await pidbox_->async_next();
    if (req.method == celery::revoke_method) {
      auto args = celery::read_revoke_arguments(req.arguments);
      if (!args) {
        log::error("ignoring a revoke request with bad arguments: {}", args.error().message);
        continue;
      }
      int sig = SIGTERM;
      if (args->signal) {
        auto n = celery::signal_number(*args->signal);
        if (!n) log::warning("revoke: unknown signal '{}', using SIGTERM", *args->signal);
        sig = n.value_or(SIGTERM);
      }
      log::info("Tasks flagged as revoked: {}", fmt::join(args->task_ids, ", "));
      const auto terminated = apply_revoke(args->task_ids, args->terminate, sig);
      if (index_ != 0) continue;
      // Celery's revoke sent from Python never reaches Redis's set: keep
      // it there, so workers started later honour it too.
      try {
        const auto expires = util::wall_now() + settings_.revoked_expires;
        co_await store.async_add(args->task_ids, expires);
      } catch (const std::exception& e) {
        log::warning("could not keep revoked ids in {}: {}", broker::revoked_key, e.what());
      }
      json::value reply = celery::revoke_reply(*args, terminated);
      co_await pidbox_->async_reply(req, std::move(reply));
    } else if (req.method == "ping") {
      if (index_ == 0) {
        json::value pong = json::object{{"ok", "pong"}};
        co_await pidbox_->async_reply(req, std::move(pong));
      }
    } else {
      log::debug("remote control command '{}' is not supported yet; ignored", req.method);
    }
  }
}

awaitable<void> consumer::revoked_refresh_loop() {
  broker::revoked_store store(broker_conn_);
  asio::steady_timer t(io_);
  bool first = true;
  while (!stopping_) {
    try {
      const auto now = util::wall_now();
      const std::size_t n = co_await store.async_load_into(revoked_, now);
      revoked_.purge(now);
      if (first && n > 0) log::info("{} revoked task id(s) loaded from {}", n, broker::revoked_key);
      if (index_ == 0) co_await store.async_drop_expired(now);
      first = false;
    } catch (const std::exception& e) {
      log::warning("reading revoked ids from {} failed: {}", broker::revoked_key, e.what());
    }
    co_await sleep_for(t, first ? std::chrono::seconds(1) : std::chrono::seconds(30));
  }
}

}  // namespace celeriac::worker
