#include "celery/message_builder.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "util/uuid.hpp"

namespace celeriac::celery {
namespace {

util::wall_time plus_seconds(util::wall_time t, double seconds) {
  return t + std::chrono::microseconds(std::llround(seconds * 1e6));
}

// Python's int(x * 1000) for kombu's "expiration" property.
std::string expiration_ms(double seconds) {
  if (!(seconds > 0)) seconds = 0;  // Celery clamps a past expiry to 0
  return std::to_string(static_cast<long long>(std::trunc(seconds * 1000)));
}

// Integral seconds as ints (what Python callers pass), others as floats.
json::value seconds_json(const std::optional<double>& s) {
  if (!s) return nullptr;
  double whole;
  if (std::modf(*s, &whole) == 0.0 && std::fabs(whole) < 9.0e15) return static_cast<long long>(whole);
  return *s;
}

json::value signature_list(const std::vector<signature>& sigs) {
  if (sigs.empty()) return nullptr;
  json::array out;
  out.reserve(sigs.size());
  for (const auto& s : sigs) out.push_back(to_json(s));
  return out;
}

bool has_option(const signature& s, std::string_view key) {
  for (const auto& [k, v] : s.options)
    if (k == key) return true;
  return false;
}

}  // namespace

std::string default_origin() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  return fmt::format("gen{}@{}", ::getpid(), host.data());
}

const std::string& process_oid() {
  static const std::string oid = util::uuid4();
  return oid;
}

task_message make_task_message(std::string name, json::array args, json::object kwargs, message_options o) {
  const util::wall_time now = o.now.value_or(util::wall_now());
  task_message m;

  task_headers& h = m.headers;
  h.task = std::move(name);
  h.id = o.task_id && !o.task_id->empty() ? std::move(*o.task_id) : util::uuid4();
  h.shadow = std::move(o.shadow);
  if (o.countdown && *o.countdown != 0)  // Celery: `if countdown:`
    h.eta = util::iso8601_utc(plus_seconds(now, *o.countdown));
  else if (o.eta)
    h.eta = util::iso8601_utc(*o.eta);
  if (o.expires_in) {
    h.expires = util::iso8601_utc(plus_seconds(now, *o.expires_in));
    m.properties.expiration = expiration_ms(*o.expires_in);
  } else if (o.expires_at) {
    h.expires = util::iso8601_utc(*o.expires_at);
    m.properties.expiration =
        expiration_ms(std::chrono::duration<double>(*o.expires_at - now).count());
  }
  h.group = std::move(o.group);
  h.group_index = o.group_index;
  h.retries = o.retries;
  h.timelimit = {seconds_json(o.time_limit), seconds_json(o.soft_time_limit)};
  h.root_id = o.root_id && !o.root_id->empty() ? std::move(*o.root_id) : h.id;
  h.parent_id = std::move(o.parent_id);
  h.argsrepr = o.argsrepr ? std::move(*o.argsrepr) : saferepr(json::value(args), repr_maxsize, o.args_style);
  h.kwargsrepr = o.kwargsrepr ? std::move(*o.kwargsrepr) : saferepr(json::value(kwargs), repr_maxsize);
  h.origin = o.origin ? std::move(*o.origin) : default_origin();
  h.ignore_result = o.ignore_result;
  h.extra = std::move(o.headers);

  task_properties& p = m.properties;
  p.correlation_id = h.id;
  p.reply_to = o.reply_to ? std::move(*o.reply_to) : process_oid();
  p.extra = std::move(o.properties);
  p.delivery_mode = 2;
  p.delivery_info.exchange = "";
  p.delivery_info.routing_key = std::move(o.queue);
  p.priority = o.priority;
  p.body_encoding = "base64";
  p.delivery_tag = util::uuid4();

  m.args = std::move(args);
  m.kwargs = std::move(kwargs);
  m.embed.callbacks = signature_list(o.link);
  m.embed.errbacks = signature_list(o.link_error);
  if (!o.chain.empty()) {
    // Celery freezes every step (so its result id is known up front) and
    // stores the steps reversed: the next one to run is popped from the end.
    json::array steps;
    steps.reserve(o.chain.size());
    for (auto it = o.chain.rbegin(); it != o.chain.rend(); ++it) {
      signature step = *it;
      if (!has_option(step, "task_id")) step.options.emplace_back("task_id", util::uuid4());
      if (!has_option(step, "reply_to")) step.options.emplace_back("reply_to", p.reply_to);
      steps.push_back(to_json(step));
    }
    m.embed.chain = std::move(steps);
  }
  if (o.chord) m.embed.chord = to_json(*o.chord);
  return m;
}

}  // namespace celeriac::celery
