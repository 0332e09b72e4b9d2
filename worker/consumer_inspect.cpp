// What a node answers to Celery's `inspect` requests. The data lives in
// every child (what each holds and runs), so each child computes its part
// here and the first child merges them (worker/control_gather.hpp) into
// the one reply Celery's client expects from a node.

#include "worker/consumer.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "celery/inspect_replies.hpp"
#include "json/dump.hpp"
#include "util/clock.hpp"
#include "worker/consumer_support.hpp"
#include "worker/process_usage.hpp"

namespace celeriac::worker {

namespace {

// query_task's ids: a list, or one id.
std::vector<std::string> requested_ids(const json::object& args) {
  std::vector<std::string> ids;
  for (const auto& [k, v] : args) {
    if (k != "ids") continue;
    if (v.is_string()) ids.push_back(v.as_string());
    if (v.is_array())
      for (const auto& e : v.as_array())
        if (e.is_string()) ids.push_back(e.as_string());
  }
  return ids;
}

// Celery's conf and report hide the password as maybe_sanitize_url does.
std::string masked_url(const redis::config& c) { return redis::to_string(c, "**"); }

}  // namespace

bool consumer::is_gathered(std::string_view method) {
  return method == "active" || method == "reserved" || method == "scheduled" || method == "query_task" ||
         method == "stats";
}

json::value consumer::request_info_of(const held_message& h, bool running) const {
  celery::request_state st;
  st.hostname = settings_.node_name;
  st.acknowledged = h.acked_early;
  if (running) {
    st.worker_pid = static_cast<std::int64_t>(::getpid());
    if (auto since = slot_.running_since())
      st.time_start = util::unix_seconds(util::wall_now()) -
                      std::chrono::duration<double>(steady_clock::now() - *since).count();
  }
  return celery::request_info(h.message, st);
}

json::value consumer::inspect_part(const std::string& m, const json::object& args) const {
  const std::uint64_t running = executor_->running();
  const auto now = util::wall_now();
  auto waits_for_eta = [&](const held_message& h) {
    auto eta = h.message.eta_time();
    return h.where == held_message::phase::waiting_eta && eta && *eta > now;
  };
  if (m == "active") {
    json::array out;
    if (auto it = held_.find(running); running && it != held_.end()) out.push_back(request_info_of(it->second, true));
    return out;
  }
  if (m == "reserved") {
    json::array out;
    for (const auto& [seq, h] : held_)
      if (seq != running && !waits_for_eta(h)) out.push_back(request_info_of(h, false));
    return out;
  }
  if (m == "scheduled") {
    json::array out;
    celery::request_state st;
    st.hostname = settings_.node_name;
    for (const auto& [seq, h] : held_)
      if (waits_for_eta(h)) out.push_back(celery::scheduled_entry(h.message, st));
    return out;
  }
  if (m == "query_task") {
    const auto ids = requested_ids(args);
    json::object out;
    for (const auto& [seq, h] : held_) {
      if (std::find(ids.begin(), ids.end(), h.message.headers.id) == ids.end()) continue;
      const bool is_running = seq == running;
      out.emplace_back(h.message.headers.id,
                       json::array{json::value(is_running ? "active" : "reserved"), request_info_of(h, is_running)});
    }
    return out;
  }
  // stats: what only this child knows (the node's totals are in shared
  // memory: node_reply reads them).
  json::object part;
  part.emplace_back("rusage", celery::rusage_json(own_usage()));
  return part;
}

json::value consumer::node_reply(const std::string& m, const std::vector<json::value>& parts) const {
  if (m == "active" || m == "reserved" || m == "scheduled") return celery::concat_arrays(parts);
  if (m == "query_task") return celery::merge_objects(parts);
  // stats
  celery::node_stats s;
  const node_state& node = slots_.node_shared();
  // The live children's usage and what the ended ones used.
  s.rusage = node.ended_children.load();
  for (const auto& p : parts) {
    if (!p.is_object()) continue;
    if (const json::value* r = p.find("rusage")) s.rusage += celery::rusage_from_json(*r);
  }
  // Every task the node started, children since replaced included.
  for (auto& [name, n] : slots_.started_by_task().totals()) s.total[name] = n;
  s.pid = static_cast<std::int64_t>(::getppid());
  s.clock = pidbox_ ? pidbox_->clock() : 0;
  const auto now_ms = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  // Whole seconds, rounded as Celery rounds its uptime.
  s.uptime_seconds = (now_ms.count() - node.started_unix_ms.load() + 500) / 1000;
  s.max_concurrency = settings_.autoscale_max > 0 ? settings_.autoscale_max : settings_.concurrency;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const child_slot& c = slots_[i];
    const auto pid = c.pid.load();
    if (pid == 0) continue;
    s.processes.push_back(pid);
    s.tasks_per_process.push_back(c.tasks_run.load());
    if (c.running.load() != 0) ++s.busy;
  }
  if (settings_.autoscale_max <= 0) s.max_concurrency = static_cast<int>(s.processes.size());
  if (settings_.max_tasks_per_child > 0) s.max_tasks_per_child = settings_.max_tasks_per_child;
  s.timeouts = {settings_.soft_time_limit.value_or(0), settings_.time_limit.value_or(0)};
  s.broker_host = settings_.broker.host;
  s.broker_port = settings_.broker.port;
  s.broker_db = settings_.broker.db;
  if (!settings_.broker.username.empty()) s.broker_user = settings_.broker.username;
  s.visibility_timeout = settings_.visibility_timeout.count();
  s.prefetch_count = static_cast<std::int64_t>(prefetch_limit() * s.processes.size());
  return celery::stats_reply(s);
}

json::value consumer::registered_reply() const {
  json::array out;
  for (const auto& name : registry_.names()) {
    const app::task_definition* t = registry_.find(name);
    if (!t) continue;
    out.emplace_back(celery::registered_entry(name, t->options.rate_limit));
  }
  return out;
}

json::value consumer::active_queues_reply() const {
  json::array out;
  for (const auto& q : transport_.config().queues) out.push_back(celery::active_queue(q.str()));
  return out;
}

json::value consumer::revoked_reply() const {
  json::array out;
  for (auto& id : revoked_.ids(util::wall_now())) out.emplace_back(std::move(id));
  return out;
}

// Celery's conf shows its settings by name; these are celeriac's
// equivalents of the ones a celeriac worker has.
json::value consumer::conf_reply() const {
  json::object c;
  // Room for every entry up front: growing the vector inside this long
  // inlined sequence makes g++ 12 -O3 report a false -Warray-bounds in
  // std::pair's constructor.
  c.reserve(20);
  c.emplace_back("broker_url", masked_url(settings_.broker));
  c.emplace_back("result_backend", settings_.result_backend ? json::value(masked_url(*settings_.result_backend))
                                                            : json::value());
  c.emplace_back("task_serializer", "json");
  json::array accept;
  accept.emplace_back("json");
  c.emplace_back("accept_content", std::move(accept));
  c.emplace_back("result_serializer", "json");
  c.emplace_back("timezone", "UTC");
  c.emplace_back("enable_utc", true);
  c.emplace_back("broker_transport_options",
                 json::object{{"visibility_timeout", json::value(settings_.visibility_timeout.count())}});
  c.emplace_back("task_acks_late", !settings_.acks_early);
  c.emplace_back("result_expires", json::value(settings_.result_expires.count()));
  c.emplace_back("worker_concurrency", settings_.concurrency);
  c.emplace_back("worker_prefetch_multiplier", settings_.prefetch_multiplier);
  c.emplace_back("worker_max_tasks_per_child",
                 settings_.max_tasks_per_child > 0 ? json::value(settings_.max_tasks_per_child) : json::value());
  c.emplace_back("worker_max_memory_per_child", settings_.max_memory_per_child_kib > 0
                                                    ? json::value(settings_.max_memory_per_child_kib)
                                                    : json::value());
  c.emplace_back("task_time_limit", settings_.time_limit ? json::value(*settings_.time_limit) : json::value());
  c.emplace_back("task_soft_time_limit",
                 settings_.soft_time_limit ? json::value(*settings_.soft_time_limit) : json::value());
  json::array queues;
  for (const auto& q : transport_.config().queues) queues.emplace_back(q.str());
  c.emplace_back("task_queues", std::move(queues));
  return c;
}

// Celery's bugreport(): software, platform, settings, then the settings
// one per line.
json::value consumer::report_reply() const {
  utsname u{};
  ::uname(&u);
  std::string text = fmt::format(
      "\nsoftware -> celeriac:{} (C++20; speaks Celery 5.2's protocol)\n"
      "platform -> system:{} arch:{} kernel version:{}\n"
      "settings -> transport:redis results:{}\n\n",
      CELERIAC_VERSION, u.sysname, u.machine, u.release,
      settings_.result_backend ? masked_url(*settings_.result_backend) : std::string("disabled"));
  const json::value conf = conf_reply();
  for (const auto& [k, v] : conf.as_object()) text += fmt::format("{}: {}\n", k, json::dump(v));
  return celery::control_ok(std::move(text));
}

}  // namespace celeriac::worker
