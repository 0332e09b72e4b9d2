// The consumer's remote control: Celery's pidbox broadcasts addressed to
// this node (celery/worker/control.py's commands), and the revoked ids kept
// in Redis so that a worker started after a revoke still honours it.
//
// Every child listens: some commands change every child (revoke,
// time_limit, rate_limit, add_consumer, ...), some need every child's
// part (inspect active, stats, ...: worker/consumer_inspect.cpp), the rest
// are the node's. Only the first child replies, so a node answers once, as
// a Celery worker does.

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
#include "json/dump.hpp"
#include "limiter/task_rates.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "worker/consumer_support.hpp"
#include "worker/control_gather.hpp"
#include "worker/metrics_hooks.hpp"

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
  count_task_revoked(m.headers.task);
  emit_revoked(h, reason);
  std::string meta;
  if (wants_result(h))
    meta = celery::encode_result_meta(celery::revoked_meta(m.headers.id, reason, celery::meta_context_for(m)));
  finish(h, join_chord(h, chord_part_revoked(h, reason), std::move(meta)));
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

namespace {

// Celery's old names for some commands (Panel aliases).
std::string canonical_method(const std::string& m) {
  static const std::pair<std::string_view, std::string_view> aliases[] = {
      {"dump_conf", "conf"},         {"dump_schedule", "scheduled"}, {"dump_reserved", "reserved"},
      {"dump_active", "active"},     {"dump_revoked", "revoked"},    {"dump_tasks", "registered"}};
  for (const auto& [alias, name] : aliases)
    if (m == alias) return std::string(name);
  return m;
}

const json::value* argument(const json::object& args, std::string_view key) {
  for (const auto& [k, v] : args)
    if (k == key && !v.is_null()) return &v;
  return nullptr;
}

std::optional<std::string> string_argument(const json::object& args, std::string_view key) {
  const json::value* v = argument(args, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->as_string();
  if (v->is_number()) return json::dump(*v);
  return std::nullopt;
}

std::optional<double> number_argument(const json::object& args, std::string_view key) {
  const json::value* v = argument(args, key);
  if (v && v->is_number()) return v->as_double();
  if (v && v->is_string()) try {
      return std::stod(v->as_string());
    } catch (const std::exception&) {
    }
  return std::nullopt;
}

// How long the first child waits for the others' parts: well inside the
// 1 s Celery's client waits for replies by default.
constexpr std::chrono::milliseconds gather_limit{400};

}  // namespace

awaitable<void> consumer::control_loop() {
  pidbox_ = std::make_unique<broker::pidbox_node>(io_.get_executor(), settings_.broker, settings_.node_name);
  co_await pidbox_->async_start();
  while (!stopping_) {
    celery::control_request req = co_await pidbox_->async_next();
    log::debug("remote control: {} (ticket {})", req.method, req.ticket.value_or("none"));
    std::optional<std::string> failure;
    try {
      co_await handle_control(req);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure) continue;
    log::error("remote control command {} failed: {}", req.method, *failure);
    // kombu's Node.dispatch replies {"error": repr(exc)} when a handler raises.
    json::value err = celery::control_error(fmt::format("Exception('{}')", *failure));
    co_await reply_once(req, std::move(err));
  }
}

awaitable<void> consumer::reply_once(const celery::control_request& req, json::value reply) {
  if (index_ != 0) co_return;
  co_await pidbox_->async_reply(req, std::move(reply));
}

awaitable<void> consumer::handle_control(const celery::control_request& req) {
  const std::string method = canonical_method(req.method);
  const json::object& args = req.arguments;
  if (method == celery::revoke_method || method == "terminate") {
    co_await handle_revoke(req, method == "terminate");
  } else if (is_gathered(method)) {
    co_await handle_gathered(req, method);
  } else if (method == "time_limit") {
    json::value reply = apply_time_limit(args);
    co_await reply_once(req, std::move(reply));
  } else if (method == "rate_limit") {
    json::value reply = co_await apply_rate_limit(args);
    co_await reply_once(req, std::move(reply));
  } else if (method == "enable_events" || method == "disable_events") {
    // Every child switches its own task events; the first replies as
    // Celery's worker words it.
    const bool on = method == "enable_events";
    const bool was = events_enabled();
    set_events_enabled(on);
    slots_.node_shared().task_events.store(on ? 1 : 0);  // for children started later
    json::value reply = celery::control_ok(on ? (was ? "task events already enabled" : "task events enabled")
                                              : (was ? "task events disabled" : "task events already disabled"));
    co_await reply_once(req, std::move(reply));
  } else if (method == "add_consumer" || method == "cancel_consumer") {
    json::value reply = co_await change_queues(method, args);
    co_await reply_once(req, std::move(reply));
  } else if (index_ != 0) {
    co_return;  // the rest is the node's, answered by its first child
  } else if (method == "shutdown") {
    // Celery's worker raises WorkerShutdown without replying.
    log::warning("{}", string_argument(args, "msg").value_or("Got shutdown from remote"));
    ::kill(::getppid(), SIGTERM);
  } else {
    json::value reply = co_await node_command(method, args);
    co_await pidbox_->async_reply(req, std::move(reply));
  }
}

awaitable<json::value> consumer::node_command(const std::string& method, const json::object& args) {
  if (method == "ping") co_return json::object{{"ok", "pong"}};
  if (method == "revoked") co_return revoked_reply();
  if (method == "registered") co_return registered_reply();
  if (method == "active_queues") co_return active_queues_reply();
  if (method == "conf") co_return conf_reply();
  if (method == "report") co_return report_reply();
  if (method == "clock") co_return json::object{{"clock", json::value(pidbox_->clock())}};
  if (method == "hello") co_return co_await hello_reply(args);
  if (method == "heartbeat") {
    request_heartbeat();
    co_return json::value();  // Celery's handler returns None
  }
  if (method == "pool_grow" || method == "pool_shrink" || method == "autoscale") co_return pool_change(method, args);
  log::warning("remote control command '{}' is not supported by celeriac; replied with an error", method);
  co_return celery::control_error(fmt::format("KeyError('{}')", method));
}

// The other children leave their parts in Redis; the first merges them
// with its own and answers for the node.
awaitable<void> consumer::handle_gathered(const celery::control_request& req, const std::string& method) {
  if (!req.wants_reply() || !req.ticket) co_return;
  json::value part = inspect_part(method, req.arguments);
  const std::string key = gather_key(settings_.node_name, *req.ticket);
  if (index_ != 0) {
    co_await async_contribute(broker_conn_, key, std::move(part));
    co_return;
  }
  std::size_t others = 0;
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (static_cast<int>(i) != index_ && slots_[i].pid.load() != 0) ++others;
  std::vector<json::value> parts = co_await async_collect(broker_conn_, key, others, gather_limit);
  parts.insert(parts.begin(), std::move(part));
  json::value reply = node_reply(method, parts);
  co_await pidbox_->async_reply(req, std::move(reply));
}

awaitable<void> consumer::handle_revoke(const celery::control_request& req, bool terminate_command) {
  json::object arguments = req.arguments;
  if (terminate_command) arguments.emplace_back("terminate", true);
  auto args = celery::read_revoke_arguments(arguments);
  if (!args) {
    log::error("ignoring a revoke request with bad arguments: {}", args.error().message);
    co_return;
  }
  int sig = SIGTERM;
  if (args->signal) {
    auto n = celery::signal_number(*args->signal);
    if (!n) log::warning("revoke: unknown signal '{}', using SIGTERM", *args->signal);
    sig = n.value_or(SIGTERM);
  }
  log::info("Tasks flagged as revoked: {}", fmt::join(args->task_ids, ", "));
  const auto terminated = apply_revoke(args->task_ids, args->terminate, sig);
  if (index_ != 0) co_return;
  // Celery's revoke sent from Python never reaches Redis's set: keep
  // it there, so workers started later honour it too.
  co_await keep_revoked(args->task_ids);
  json::value reply = celery::revoke_reply(*args, terminated);
  co_await pidbox_->async_reply(req, std::move(reply));
}

// Keeps ids in celeriac.revoked, so workers started later honour them too;
// Redis failing is logged (the broadcast already reached running workers).
awaitable<void> consumer::keep_revoked(const std::vector<std::string>& ids) {
  try {
    broker::revoked_store store(broker_conn_);
    const auto expires = util::wall_now() + settings_.revoked_expires;
    co_await store.async_add(ids, expires);
  } catch (const std::exception& e) {
    log::warning("could not keep revoked ids in {}: {}", broker::revoked_key, e.what());
  }
}

// Celery's mingle: a Celery worker starting up sends `hello` with its
// revoked ids and takes ours (as {id: time added}) and our clock.
awaitable<json::value> consumer::hello_reply(const json::object& args) {
  if (string_argument(args, "from_node") == settings_.node_name) co_return json::value();
  std::vector<std::string> theirs;
  if (const json::value* r = argument(args, "revoked"); r && r->is_object())
    for (const auto& [id, when] : r->as_object()) theirs.push_back(id);
  if (!theirs.empty()) {
    apply_revoke(theirs, false, SIGTERM);
    co_await keep_revoked(theirs);
  }
  json::object ours;
  const double now = util::unix_seconds(util::wall_now());
  for (auto& id : revoked_.ids(util::wall_now())) ours.emplace_back(std::move(id), json::value(now));
  co_return json::object{{"revoked", json::value(std::move(ours))}, {"clock", json::value(pidbox_->clock())}};
}

// time_limit NAME SOFT HARD: Celery sets the task's own limits on that
// worker; here every child of the node does, so the next runs of the task
// use them (a message's own timelimit header still wins).
json::value consumer::apply_time_limit(const json::object& args) {
  const auto task = string_argument(args, "task_name");
  if (!task || !registry_.find(*task)) {
    log::error("Change time limit attempt for unknown task {}", task.value_or("(none)"));
    return celery::control_error("unknown task");
  }
  time_limits limits;
  limits.soft = number_argument(args, "soft");
  limits.hard = number_argument(args, "hard");
  // Every child records it in the node's table (the same change from each)
  // and then runs by that table, so children started later have it too.
  node_state& node = slots_.node_shared();
  node.lock_writer();
  time_limit_overrides all = decode_time_limit_overrides(node.time_limits_text());
  all[*task] = limits;
  const bool kept = node.set_time_limits_text(encode_time_limit_overrides(all));
  node.unlock_writer();
  if (!kept) {
    time_limit_overrides_[*task] = limits;  // this child at least
    log::warning("too many remote time limits to share: children started later will not have them");
  }
  sync_time_limits();
  if (index_ == 0)
    log::info("New time limits for tasks of type {}: soft={} hard={}", *task,
              limits.soft ? fmt::format("{}", *limits.soft) : "None",
              limits.hard ? fmt::format("{}", *limits.hard) : "None");
  return celery::control_ok("time limits set successfully");
}

void consumer::sync_time_limits() {
  const std::uint64_t version = slots_.node_shared().limits_version.load(std::memory_order_acquire);
  if (version == limits_seen_) return;
  time_limit_overrides_ = decode_time_limit_overrides(slots_.node_shared().time_limits_text());
  limits_seen_ = version;
}

void consumer::sync_queues() {
  const node_state& node = slots_.node_shared();
  const std::uint64_t version = node.queues_version.load(std::memory_order_acquire);
  if (version == queues_seen_ || version % 2 == 1) return;
  queues_seen_ = version;
  auto text = node.queues_text();
  if (!text) return;
  std::vector<broker::queue_name> queues = queue_lines(*text);
  if (queues.empty() || queues == transport_.config().queues) return;
  log::debug("consuming the node's queues: {}", *text);
  transport_.set_queues(std::move(queues));
  watch_consumed_lists();
}

const app::task_options& consumer::options_for(const held_message& h, app::task_options& scratch) const {
  auto it = time_limit_overrides_.find(h.message.headers.task);
  if (it == time_limit_overrides_.end()) return h.task->options;
  scratch = h.task->options;
  scratch.time_limit = it->second.hard;
  scratch.soft_time_limit = it->second.soft;
  return scratch;
}

// rate_limit NAME RATE: cluster-wide, as `celeriac rate-limit` sets it —
// the first child writes celeriac.rate_limits, and every child re-reads it
// at once instead of at its next poll.
awaitable<json::value> consumer::apply_rate_limit(const json::object& args) {
  const auto task = string_argument(args, "task_name");
  const std::string text = string_argument(args, "rate_limit").value_or("");
  try {
    limiter::parse_task_rate(task.value_or(""), text);
  } catch (const std::exception& e) {
    co_return celery::control_error(fmt::format("Invalid rate limit string: ValueError('{}')", e.what()));
  }
  if (!task || !registry_.find(*task)) {
    if (index_ == 0) log::error("Rate limit attempt for unknown task {}", task.value_or("(none)"));
    co_return celery::control_error("unknown task");
  }
  if (index_ == 0) {
    redis::request req;
    req.push("HSET", limiter::runtime_rates_key, *task, text);
    co_await broker_conn_.async_exec(req);
    if (text.empty())
      log::info("Rate limits disabled for tasks of type {}", *task);
    else
      log::info("New rate limit for tasks of type {}: {}.", *task, text);
    co_await refresh_rates();
  } else {
    // Re-read once the first child's write has landed, without holding up
    // the requests that follow this one.
    asio::co_spawn(io_, refresh_rates_after(milliseconds(200)), asio::detached);
  }
  co_return celery::control_ok(text.empty() ? "rate limit disabled successfully" : "new rate limit set successfully");
}

awaitable<void> consumer::refresh_rates_after(milliseconds delay) {
  asio::steady_timer t(io_);
  co_await sleep_for(t, delay);
  co_await refresh_rates();
}

// add_consumer QUEUE / cancel_consumer QUEUE: every child changes what it
// fetches; the first keeps the node's list in shared memory, so children
// started later consume the same queues.
awaitable<json::value> consumer::change_queues(const std::string& method, const json::object& args) {
  const auto name = string_argument(args, "queue");
  std::string why;
  auto q = name ? broker::queue_name::make(*name, &why) : std::nullopt;
  if (!q) co_return celery::control_error(fmt::format("bad queue name '{}': {}", name.value_or(""), why));
  // Every child changes the node's list (the same change from each), then
  // consumes by it.
  std::optional<std::string> refusal;
  node_state& node = slots_.node_shared();
  node.lock_writer();
  const auto text = node.queues_text();
  std::vector<broker::queue_name> queues = text ? queue_lines(*text) : settings_.queues;
  const auto it = std::find(queues.begin(), queues.end(), *q);
  bool changed = false;
  if (method == "add_consumer" && it == queues.end()) {
    queues.push_back(*q);
    changed = true;
  } else if (method == "cancel_consumer" && it != queues.end()) {
    if (queues.size() == 1)
      refusal = fmt::format("{} is the only queue this worker consumes; add another before cancelling it", q->str());
    else
      queues.erase(it), changed = true;
  }
  if (changed) {
    std::string lines;
    for (const auto& each : queues) lines += each.str() + "\n";
    if (!node.set_queues(lines)) refusal = "the node consumes too many queues to add another";
  }
  node.unlock_writer();
  if (refusal) co_return celery::control_error(*refusal);
  if (changed && index_ == 0)
    log::info("{} {}", method == "add_consumer" ? "Started consuming from" : "Stopped consuming from", q->str());
  sync_queues();
  co_await transport_.async_declare();
  wake_fetcher();
  co_return celery::control_ok(method == "add_consumer" ? fmt::format("add consumer {}", q->str())
                                                        : fmt::format("no longer consuming from {}", q->str()));
}

// pool_grow/pool_shrink N (fixed pools) and autoscale MAX MIN: the
// supervisor applies them within a second (worker/pool.cpp).
json::value consumer::pool_change(const std::string& method, const json::object& args) {
  const bool autoscale = settings_.autoscale_max > 0;
  node_state& node = slots_.node_shared();
  if (method == "autoscale") {
    if (!autoscale) return celery::control_error("ValueError('Autoscale not enabled')");
    const auto max = number_argument(args, "max");
    const auto min = number_argument(args, "min");
    const int new_max = max ? static_cast<int>(*max) : (node.autoscale_max.load() > 0 ? node.autoscale_max.load()
                                                                                        : settings_.autoscale_max);
    const int new_min = min ? static_cast<int>(*min) : (node.autoscale_min.load() >= 0 ? node.autoscale_min.load()
                                                                                         : settings_.autoscale_min);
    const int capped_max = std::clamp(new_max, 1, static_cast<int>(slots_.size()));
    node.autoscale_max.store(capped_max);
    node.autoscale_min.store(std::clamp(new_min, 0, capped_max));
    return celery::control_ok(fmt::format("autoscale now max={} min={}", capped_max, std::clamp(new_min, 0, capped_max)));
  }
  if (autoscale)
    return celery::control_error(fmt::format("{} is not supported with autoscale. Adjust autoscale range instead.",
                                             method));
  const int n = static_cast<int>(number_argument(args, "n").value_or(1));
  node.pool_delta.fetch_add(method == "pool_grow" ? n : -n);
  return celery::control_ok(method == "pool_grow" ? "pool will grow" : "pool will shrink");
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
