#include "celery/event_message.hpp"

#include <cmath>
#include <iterator>
#include <ostream>

#include <fmt/format.h>

#include "celery/json_writer.hpp"
#include "celery/py_repr.hpp"
#include "celery/task_message.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "util/base64.hpp"

namespace celeriac::celery {

namespace {

json::value optional_text(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(); }

json::object software_fields(json::object fields, const worker_vitals& v) {
  fields.emplace_back("sw_ident", v.sw_ident);
  fields.emplace_back("sw_ver", v.sw_ver);
  fields.emplace_back("sw_sys", v.sw_sys);
  return fields;
}

const json::value* string_member(const json::value& obj, std::string_view key) {
  const json::value* v = obj.is_object() ? obj.find(key) : nullptr;
  return v && v->is_string() ? v : nullptr;
}

event_error fail(std::string message) { return event_error{std::move(message)}; }

}  // namespace

std::ostream& operator<<(std::ostream& os, const event_error& e) { return os << e.message; }

std::string event_json(std::string_view type, const event_sender& from, std::int64_t clock, double timestamp,
                       const json::object& fields) {
  std::string out;
  out.reserve(256);
  detail::object_writer w(out);
  w.member("hostname", from.hostname);
  fmt::format_to(std::back_inserter(w.key("utcoffset")), "{}", from.utcoffset);
  fmt::format_to(std::back_inserter(w.key("pid")), "{}", from.pid);
  fmt::format_to(std::back_inserter(w.key("clock")), "{}", clock);
  w.members(fields);
  json::dump_double_to(w.key("timestamp"), timestamp);
  w.member("type", type);
  w.finish();
  return out;
}

std::string event_list_json(const std::vector<std::string>& events) {
  std::size_t size = 2;
  for (const auto& e : events) size += e.size() + 2;
  std::string out;
  out.reserve(size);
  out += '[';
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i) out += ", ";
    out += events[i];
  }
  out += ']';
  return out;
}

json::object task_received_fields(const task_message& m) {
  const auto& h = m.headers;
  return json::object{{"uuid", h.id},
                      {"name", h.task},
                      {"args", h.argsrepr},
                      {"kwargs", h.kwargsrepr},
                      {"root_id", optional_text(h.root_id)},
                      {"parent_id", optional_text(h.parent_id)},
                      {"retries", json::value(h.retries)},
                      {"eta", optional_text(h.eta)},
                      {"expires", optional_text(h.expires)}};
}

json::object task_started_fields(std::string_view id) { return json::object{{"uuid", id}}; }

json::object task_succeeded_fields(std::string_view id, const json::value& result, double runtime) {
  return json::object{{"uuid", id}, {"result", saferepr(result)}, {"runtime", json::value(runtime)}};
}

json::object task_failed_fields(std::string_view id, std::string_view exception,
                                const std::optional<std::string>& traceback) {
  json::object f{{"uuid", id}, {"exception", exception}};
  if (traceback) f.emplace_back("traceback", *traceback);
  return f;
}

json::object task_retried_fields(std::string_view id, std::string_view exception, std::string_view traceback) {
  return json::object{{"uuid", id}, {"exception", exception}, {"traceback", traceback}};
}

json::object task_revoked_fields(std::string_view id, const revoke_flags& how) {
  return json::object{{"uuid", id},
                      {"terminated", how.terminated},
                      {"signum", how.signum ? json::value(*how.signum) : json::value()},
                      {"expired", how.expired}};
}

json::object task_rejected_fields(std::string_view id, bool requeue) {
  return json::object{{"uuid", id}, {"requeue", requeue}};
}

json::object worker_fields(const worker_vitals& v) {
  json::array load;
  for (double l : v.loadavg) load.emplace_back(l);
  return software_fields(json::object{{"freq", json::value(v.freq)},
                                      {"active", json::value(v.active)},
                                      {"processed", json::value(v.processed)},
                                      {"loadavg", std::move(load)}},
                         v);
}

json::object requested_heartbeat_fields(const worker_vitals& v) {
  return software_fields(json::object{{"freq", json::value(5)}}, v);
}

std::string exception_text(std::string_view type, const json::array& args) {
  std::string out(type);
  out += '(';
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i) out += ", ";
    out += py_repr(args[i]);
  }
  return out + ')';
}

std::array<double, 3> rounded_load_average(const std::array<double, 3>& raw) {
  std::array<double, 3> out{};
  for (std::size_t i = 0; i < raw.size(); ++i) out[i] = std::ceil(raw[i] * 1e2) / 1e2;
  return out;
}

std::int64_t utcoffset_hours(long gmtoff_seconds) {
  const long west = -gmtoff_seconds;
  // Floor division, as Python's // (C++'s / truncates toward zero).
  long q = west / 3600;
  if (west % 3600 != 0 && west < 0) --q;
  return q;
}

std::string event_routing_key(std::string_view type) {
  std::string key(type);
  for (char& c : key)
    if (c == '-') c = '.';
  return key;
}

std::string event_channel(int db, std::string_view routing_key) {
  return fmt::format("/{}.{}/{}", db, event_exchange, routing_key);
}

std::string encode_event_message(std::string_view body_json, std::string_view hostname,
                                 std::string_view routing_key, std::string_view delivery_tag) {
  std::string out;
  out.reserve(body_json.size() * 4 / 3 + 320);
  detail::object_writer w(out);
  // Base64 needs no JSON escaping: written as is, not scanned.
  util::base64_encode_to(w.key("body") += '"', body_json);
  out += '"';
  w.member("content-encoding", "utf-8");
  w.member("content-type", "application/json");
  {
    detail::object_writer headers(w.key("headers"));
    headers.member("hostname", hostname);
    headers.finish();
  }
  detail::object_writer props(w.key("properties"));
  props.key("delivery_mode") += '1';
  {
    detail::object_writer info(props.key("delivery_info"));
    info.member("exchange", event_exchange);
    info.member("routing_key", routing_key);
    info.finish();
  }
  props.key("priority") += '0';
  props.member("body_encoding", "base64");
  props.member("delivery_tag", delivery_tag);
  props.finish();
  w.finish();
  return out;
}

boost::system::result<event_message, event_error> decode_event_message(std::string_view envelope) {
  auto parsed = json::parse(envelope);
  if (!parsed || !parsed->is_object()) return fail("the event message is not a JSON object");
  const json::value* body = string_member(*parsed, "body");
  if (!body) return fail("the event message has no string \"body\"");
  auto bytes = util::base64_decode(body->as_string());
  if (!bytes) return fail("the event message's body is not base64");
  auto decoded = json::parse(*bytes);
  if (!decoded) return fail(fmt::format("the event message's body is not JSON ({})", decoded.error().message));
  event_message m;
  m.body = std::move(*decoded);
  if (const json::value* headers = parsed->find("headers"))
    if (const json::value* host = string_member(*headers, "hostname")) m.hostname = host->as_string();
  const json::value* props = parsed->find("properties");
  const json::value* info = props && props->is_object() ? props->find("delivery_info") : nullptr;
  const json::value* key = info ? string_member(*info, "routing_key") : nullptr;
  if (!key) return fail("the event message has no properties.delivery_info.routing_key");
  m.routing_key = key->as_string();
  if (const json::value* tag = props ? string_member(*props, "delivery_tag") : nullptr) m.delivery_tag = tag->as_string();
  return m;
}

}  // namespace celeriac::celery
