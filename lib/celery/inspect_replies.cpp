#include "celery/inspect_replies.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace celeriac::celery {

namespace {

json::value optional_number(const std::optional<double>& v) { return v ? json::value(*v) : json::value(); }

json::value delivery_info(const task_message& m) {
  const json::value* redelivered = nullptr;
  for (const auto& [k, v] : m.properties.delivery_info.extra)
    if (k == "redelivered") redelivered = &v;
  json::value flag = redelivered ? *redelivered : (m.redelivered() ? json::value(true) : json::value());
  return json::object{{"exchange", json::value(m.properties.delivery_info.exchange)},
                      {"routing_key", json::value(m.properties.delivery_info.routing_key)},
                      {"priority", json::value(m.properties.priority)},
                      {"redelivered", std::move(flag)}};
}

std::string two_decimals(double v) { return fmt::format("{:.2f}", v); }

// Celery's pool shows an unset limit as the integer 0.
json::value seconds_or_zero(double v) { return v == 0 ? json::value(0) : json::value(v); }

}  // namespace

json::value request_info(const task_message& m, const request_state& state) {
  return json::object{
      {"id", json::value(m.headers.id)},
      {"name", json::value(m.headers.task)},
      {"args", json::value(m.args)},
      {"kwargs", json::value(m.kwargs)},
      {"type", json::value(m.headers.task)},
      {"hostname", json::value(std::string(state.hostname))},
      {"time_start", optional_number(state.time_start)},
      {"acknowledged", json::value(state.acknowledged)},
      {"delivery_info", delivery_info(m)},
      {"worker_pid", state.worker_pid ? json::value(*state.worker_pid) : json::value()},
  };
}

json::value scheduled_entry(const task_message& m, const request_state& state) {
  constexpr std::int64_t celery_eta_timer_priority = 6;
  return json::object{{"eta", m.headers.eta ? json::value(*m.headers.eta) : json::value()},
                      {"priority", json::value(celery_eta_timer_priority)},
                      {"request", request_info(m, state)}};
}

json::value active_queue(std::string_view queue) {
  const json::value name{std::string(queue)};
  json::value exchange = json::object{{"name", name},
                                      {"type", json::value("direct")},
                                      {"arguments", json::value()},
                                      {"durable", json::value(true)},
                                      {"passive", json::value(false)},
                                      {"auto_delete", json::value(false)},
                                      {"delivery_mode", json::value()},
                                      {"no_declare", json::value(false)}};
  return json::object{{"name", name},
                      {"exchange", std::move(exchange)},
                      {"routing_key", name},
                      {"queue_arguments", json::value()},
                      {"binding_arguments", json::value()},
                      {"consumer_arguments", json::value()},
                      {"durable", json::value(true)},
                      {"exclusive", json::value(false)},
                      {"auto_delete", json::value(false)},
                      {"no_ack", json::value(false)},
                      {"alias", json::value()},
                      {"bindings", json::value(json::array{})},
                      {"no_declare", json::value()},
                      {"expires", json::value()},
                      {"message_ttl", json::value()},
                      {"max_length", json::value()},
                      {"max_length_bytes", json::value()},
                      {"max_priority", json::value()}};
}

std::string registered_entry(std::string_view task, const std::optional<std::string>& rate_limit) {
  if (!rate_limit) return std::string(task);
  return fmt::format("{} [rate_limit={}]", task, *rate_limit);
}

rusage_figures& rusage_figures::operator+=(const rusage_figures& o) {
  utime += o.utime;
  stime += o.stime;
  maxrss = std::max(maxrss, o.maxrss);  // a peak, not a sum
  for (const auto& c : rusage_counters) this->*c.field += o.*c.field;
  return *this;
}

json::value rusage_json(const rusage_figures& r) {
  json::object out{{"utime", json::value(r.utime)}, {"stime", json::value(r.stime)}, {"maxrss", json::value(r.maxrss)}};
  for (const auto& c : rusage_counters) out.emplace_back(c.name, json::value(r.*c.field));
  return out;
}

rusage_figures rusage_from_json(const json::value& v) {
  rusage_figures r;
  if (!v.is_object()) return r;
  auto number = [&](std::string_view key) -> std::optional<double> {
    const json::value* f = v.find(key);
    if (!f || !f->is_number()) return std::nullopt;
    return f->as_double();
  };
  r.utime = number("utime").value_or(0);
  r.stime = number("stime").value_or(0);
  r.maxrss = static_cast<std::int64_t>(number("maxrss").value_or(0));
  for (const auto& c : rusage_counters) r.*c.field = static_cast<std::int64_t>(number(c.name).value_or(0));
  return r;
}

// Celery's prefork pool reports how evenly it wrote tasks to its processes:
// "avg" is the mean share, "all" each process's share, "raw" the counts.
static json::value pool_writes(const node_stats& s) {
  std::uint64_t total = 0;
  for (auto n : s.tasks_per_process) total += n;
  std::vector<std::string> shares, raw;
  for (auto n : s.tasks_per_process) {
    shares.push_back(two_decimals(total ? static_cast<double>(n) / static_cast<double>(total) : 0.0));
    raw.push_back(std::to_string(n));
  }
  const double avg = total && !s.tasks_per_process.empty() ? 1.0 / static_cast<double>(s.tasks_per_process.size())
                                                           : 0.0;
  return json::object{{"total", json::value(static_cast<std::int64_t>(total))},
                      {"avg", json::value(two_decimals(avg))},
                      {"all", json::value(fmt::format("{}", fmt::join(shares, ", ")))},
                      {"raw", json::value(fmt::format("{}", fmt::join(raw, ", ")))},
                      {"strategy", json::value("fair")},
                      {"inqueues", json::object{{"total", json::value(static_cast<std::int64_t>(s.processes.size()))},
                                                {"active", json::value(static_cast<std::int64_t>(s.busy))}}}};
}

json::value stats_reply(const node_stats& s) {
  json::object total;
  for (const auto& [name, n] : s.total) total.emplace_back(name, json::value(static_cast<std::int64_t>(n)));
  json::array processes;
  for (auto pid : s.processes) processes.emplace_back(pid);
  json::value pool = json::object{
      {"max-concurrency", json::value(static_cast<std::int64_t>(s.max_concurrency))},
      {"processes", json::value(std::move(processes))},
      {"max-tasks-per-child",
       s.max_tasks_per_child ? json::value(static_cast<std::int64_t>(*s.max_tasks_per_child)) : json::value("N/A")},
      {"put-guarded-by-semaphore", json::value(false)},
      {"timeouts", json::value(json::array{seconds_or_zero(s.timeouts.first), seconds_or_zero(s.timeouts.second)})},
      {"writes", pool_writes(s)}};
  json::value broker = json::object{
      {"hostname", json::value(s.broker_host)},
      {"userid", s.broker_user ? json::value(*s.broker_user) : json::value()},
      {"virtual_host", json::value(std::to_string(s.broker_db))},
      {"port", json::value(static_cast<std::int64_t>(s.broker_port))},
      {"insist", json::value(false)},
      {"ssl", json::value(false)},
      {"transport", json::value("redis")},
      {"connect_timeout", json::value(static_cast<std::int64_t>(4))},
      {"transport_options", json::object{{"visibility_timeout", json::value(s.visibility_timeout)}}},
      {"login_method", json::value()},
      {"uri_prefix", json::value()},
      {"heartbeat", json::value(120.0)},
      {"failover_strategy", json::value("round-robin")},
      {"alternates", json::value(json::array{})}};
  return json::object{{"total", json::value(std::move(total))},
                      {"pid", json::value(s.pid)},
                      {"clock", json::value(std::to_string(s.clock))},
                      {"uptime", json::value(s.uptime_seconds)},
                      {"pool", std::move(pool)},
                      {"broker", std::move(broker)},
                      {"prefetch_count", json::value(s.prefetch_count)},
                      {"rusage", rusage_json(s.rusage)}};
}

json::array concat_arrays(const std::vector<json::value>& parts) {
  json::array out;
  for (const auto& p : parts)
    if (p.is_array()) out.insert(out.end(), p.as_array().begin(), p.as_array().end());
  return out;
}

json::object merge_objects(const std::vector<json::value>& parts) {
  json::object out;
  for (const auto& p : parts) {
    if (!p.is_object()) continue;
    for (const auto& [k, v] : p.as_object()) {
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& m) { return m.first == k; });
      if (it != out.end())
        it->second = v;
      else
        out.emplace_back(k, v);
    }
  }
  return out;
}

}  // namespace celeriac::celery
