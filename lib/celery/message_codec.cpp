#include "celery/message_codec.hpp"

#include <ostream>
#include <utility>

#include <fmt/format.h>

#include "celery/json_writer.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "util/base64.hpp"
#include "util/clock.hpp"

namespace celeriac::celery {

std::string_view reason_code(decode_reason r) noexcept {
  switch (r) {
    case decode_reason::not_json: return "not_json";
    case decode_reason::bad_envelope: return "bad_envelope";
    case decode_reason::unsupported_content_type: return "unsupported_content_type";
    case decode_reason::unsupported_content_encoding: return "unsupported_content_encoding";
    case decode_reason::bad_body_encoding: return "bad_body_encoding";
    case decode_reason::bad_body: return "bad_body";
    case decode_reason::protocol_v1: return "protocol_v1";
    case decode_reason::missing_header: return "missing_header";
    case decode_reason::bad_header: return "bad_header";
    case decode_reason::bad_property: return "bad_property";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, const decode_error& e) {
  os << reason_code(e.reason) << ": " << e.message;
  if (e.task_id) os << " [task_id " << *e.task_id << "]";
  return os;
}

std::ostream& operator<<(std::ostream& os, const task_message& m) {
  return os << m.headers.task << "[" << m.headers.id << "]";
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

namespace {

using decode_result = boost::system::result<task_message, decode_error>;

// The header names Celery's as_task_v2 writes; anything else is an extra.
constexpr std::string_view known_headers[] = {
    "lang",   "task",     "id",        "shadow",   "eta",        "expires", "group",  "group_index",
    "retries", "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result"};

constexpr std::string_view known_properties[] = {"correlation_id", "reply_to",      "delivery_mode",
                                                 "expiration",     "delivery_info", "priority",
                                                 "body_encoding",  "delivery_tag"};

template <std::size_t N>
bool is_one_of(std::string_view key, const std::string_view (&names)[N]) {
  for (auto n : names)
    if (n == key) return true;
  return false;
}

// What a refusal can say about the message it refuses.
struct identity {
  std::optional<std::string> task_id;
  std::optional<std::string> task_name;

  std::string describe() const {
    if (task_name && task_id) return fmt::format("task {}[{}]", *task_name, *task_id);
    if (task_id) return fmt::format("task [{}]", *task_id);
    if (task_name) return fmt::format("task {}", *task_name);
    return "message";
  }

  decode_error fail(decode_reason r, std::string message) const {
    return decode_error{r, std::move(message), task_id, task_name};
  }
};

const std::string* string_member(const json::value& obj, std::string_view key) {
  const json::value* v = obj.find(key);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

identity identify(const json::value& envelope) {
  identity who;
  const json::value* headers = envelope.find("headers");
  const json::value* properties = envelope.find("properties");
  if (headers) {
    if (auto* id = string_member(*headers, "id"); id && !id->empty()) who.task_id = *id;
    if (auto* task = string_member(*headers, "task"); task && !task->empty()) who.task_name = *task;
  }
  if (!who.task_id && properties)
    if (auto* id = string_member(*properties, "correlation_id"); id && !id->empty()) who.task_id = *id;
  return who;
}

// Serializer names for the content types kombu registers, for the refusal.
std::string_view serializer_of(std::string_view content_type) {
  if (content_type == "application/x-python-serialize") return " (pickle)";
  if (content_type == "application/x-yaml") return " (yaml)";
  if (content_type == "application/x-msgpack") return " (msgpack)";
  if (content_type == "application/data" || content_type == "application/x-binary") return " (raw bytes)";
  return "";
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A signature-shaped object: what the worker will later apply.
bool is_signature_object(const json::value& v) {
  if (!v.is_object()) return false;
  const json::value* task = v.find("task");
  return task && task->is_string();
}

bool is_signature_list(const json::value& v) {
  if (v.is_null()) return true;
  if (!v.is_array()) return false;
  for (const auto& item : v.as_array())
    if (!is_signature_object(item)) return false;
  return true;
}

// Field readers: each returns false when the value has the wrong type.
bool read_opt_string(const json::value* v, std::optional<std::string>& out) {
  if (!v || v->is_null()) return true;
  if (!v->is_string()) return false;
  out = v->as_string();
  return true;
}

bool read_string(const json::value* v, std::string& out) {
  if (!v || v->is_null()) return true;
  if (!v->is_string()) return false;
  out = v->as_string();
  return true;
}

bool read_int(const json::value* v, std::int64_t& out) {
  if (!v || v->is_null()) return true;
  if (!v->is_integer()) return false;
  out = v->as_integer();
  return true;
}

bool read_bool(const json::value* v, bool& out) {
  if (!v || v->is_null()) return true;
  if (!v->is_bool()) return false;
  out = v->as_bool();
  return true;
}

std::optional<decode_error> read_headers(const json::value& h, const identity& who, task_headers& out) {
  auto bad = [&](std::string_view name, std::string_view expected) {
    const json::value* v = h.find(name);
    return who.fail(decode_reason::bad_header,
                    fmt::format("{} has header '{}' = {}, expected {}; the producer is not speaking "
                                "Celery protocol 2",
                                who.describe(), name, v ? json::dump(*v) : "<missing>", expected));
  };

  if (!read_string(h.find("lang"), out.lang)) return bad("lang", "a string");
  if (!read_string(h.find("task"), out.task)) return bad("task", "a string");
  if (!read_string(h.find("id"), out.id)) return bad("id", "a string");
  if (out.task.empty())
    return who.fail(decode_reason::missing_header,
                    fmt::format("{} has no 'task' header: cannot tell which task to run", who.describe()));
  if (out.id.empty())
    return who.fail(decode_reason::missing_header,
                    fmt::format("{} has no 'id' header: cannot run or record it without a task id",
                                who.describe()));
  if (!read_opt_string(h.find("shadow"), out.shadow)) return bad("shadow", "a string or null");
  if (!read_opt_string(h.find("eta"), out.eta) || (out.eta && !util::parse_iso8601(*out.eta)))
    return bad("eta", "an ISO-8601 date-time or null");
  if (!read_opt_string(h.find("expires"), out.expires) || (out.expires && !util::parse_iso8601(*out.expires)))
    return bad("expires", "an ISO-8601 date-time or null");
  if (!read_opt_string(h.find("group"), out.group)) return bad("group", "a string or null");
  if (const json::value* gi = h.find("group_index"); gi && !gi->is_null()) {
    if (!gi->is_integer()) return bad("group_index", "an integer or null");
    out.group_index = gi->as_integer();
  }
  if (!read_int(h.find("retries"), out.retries)) return bad("retries", "an integer");
  if (const json::value* tl = h.find("timelimit"); tl && !tl->is_null()) {
    if (!tl->is_array() || tl->as_array().size() != 2) return bad("timelimit", "[hard, soft]");
    for (std::size_t i = 0; i < 2; ++i) {
      const json::value& limit = tl->as_array()[i];
      if (!limit.is_null() && !limit.is_number()) return bad("timelimit", "[hard, soft] of numbers or nulls");
      out.timelimit[i] = limit;
    }
  }
  if (!read_opt_string(h.find("root_id"), out.root_id)) return bad("root_id", "a string or null");
  if (!read_opt_string(h.find("parent_id"), out.parent_id)) return bad("parent_id", "a string or null");
  if (!read_string(h.find("argsrepr"), out.argsrepr)) return bad("argsrepr", "a string");
  if (!read_string(h.find("kwargsrepr"), out.kwargsrepr)) return bad("kwargsrepr", "a string");
  if (!read_string(h.find("origin"), out.origin)) return bad("origin", "a string");
  if (!read_bool(h.find("ignore_result"), out.ignore_result)) return bad("ignore_result", "a boolean");

  for (const auto& [k, v] : h.as_object())
    if (!is_one_of(k, known_headers)) out.extra.emplace_back(k, v);
  return std::nullopt;
}

std::optional<decode_error> read_properties(const json::value& p, const identity& who, task_properties& out) {
  auto bad = [&](std::string_view name, std::string_view expected) {
    const json::value* v = p.find(name);
    return who.fail(decode_reason::bad_property,
                    fmt::format("{} has property '{}' = {}, expected {}", who.describe(), name,
                                v ? json::dump(*v) : "<missing>", expected));
  };

  if (!read_string(p.find("correlation_id"), out.correlation_id)) return bad("correlation_id", "a string");
  if (!read_string(p.find("reply_to"), out.reply_to)) return bad("reply_to", "a string");
  if (!read_int(p.find("delivery_mode"), out.delivery_mode)) return bad("delivery_mode", "an integer");
  if (const json::value* e = p.find("expiration"); e && !e->is_null()) {
    if (e->is_string())
      out.expiration = e->as_string();
    else if (e->is_integer())
      out.expiration = std::to_string(e->as_integer());
    else
      return bad("expiration", "milliseconds as a string");
  }
  if (const json::value* di = p.find("delivery_info"); di && !di->is_null()) {
    if (!di->is_object()) return bad("delivery_info", "an object");
    if (!read_string(di->find("exchange"), out.delivery_info.exchange))
      return bad("delivery_info", "a string exchange");
    if (!read_string(di->find("routing_key"), out.delivery_info.routing_key))
      return bad("delivery_info", "a string routing_key");
    for (const auto& [k, v] : di->as_object())
      if (k != "exchange" && k != "routing_key") out.delivery_info.extra.emplace_back(k, v);
  }
  if (!read_int(p.find("priority"), out.priority)) return bad("priority", "an integer 0-9");
  if (!read_string(p.find("body_encoding"), out.body_encoding)) return bad("body_encoding", "a string");
  if (!read_string(p.find("delivery_tag"), out.delivery_tag)) return bad("delivery_tag", "a string");

  for (const auto& [k, v] : p.as_object())
    if (!is_one_of(k, known_properties)) out.extra.emplace_back(k, v);
  return std::nullopt;
}

std::optional<decode_error> read_body(json::value&& body, const identity& who, task_message& out) {
  auto bad = [&](std::string what) {
    return who.fail(decode_reason::bad_body,
                    fmt::format("{} has an invalid body: {}; expected [args, kwargs, embed]", who.describe(),
                                what));
  };
  if (!body.is_array()) return bad("not a JSON list");
  auto& parts = body.as_array();
  if (parts.size() != 3) return bad(fmt::format("a list of {} elements", parts.size()));
  if (!parts[0].is_array()) return bad("args is not a list");
  if (!parts[1].is_object()) return bad("kwargs is not an object");
  if (!parts[2].is_null() && !parts[2].is_object()) return bad("embed is neither an object nor null");

  out.args = std::move(parts[0].as_array());
  out.kwargs = std::move(parts[1].as_object());
  if (parts[2].is_null()) return std::nullopt;

  for (auto& [k, v] : parts[2].as_object()) {
    if (k == "callbacks" || k == "errbacks" || k == "chain") {
      if (!is_signature_list(v)) return bad(fmt::format("embed.{} is not null or a list of signatures", k));
      (k == "callbacks" ? out.embed.callbacks : k == "errbacks" ? out.embed.errbacks : out.embed.chain) =
          std::move(v);
    } else if (k == "chord") {
      if (!v.is_null() && !is_signature_object(v)) return bad("embed.chord is not null or a signature");
      out.embed.chord = std::move(v);
    } else {
      out.embed.extra.emplace_back(k, std::move(v));
    }
  }
  return std::nullopt;
}

}  // namespace

decode_result decode_message(std::string_view envelope) {
  auto parsed = json::parse(envelope);
  if (!parsed || !parsed->is_object())
    return decode_error{decode_reason::not_json,
                        parsed ? "message is not a JSON object: not a kombu envelope"
                               : fmt::format("message is not JSON ({}): not a kombu envelope",
                                             parsed.error().message),
                        std::nullopt, std::nullopt};
  json::value& env = *parsed;
  identity who = identify(env);

  const json::value* headers = env.find("headers");
  const json::value* properties = env.find("properties");
  const json::value* body = env.find("body");
  if (headers && !headers->is_null() && !headers->is_object())
    return who.fail(decode_reason::bad_envelope, "kombu envelope has 'headers' that is not an object");
  if (properties && !properties->is_null() && !properties->is_object())
    return who.fail(decode_reason::bad_envelope, "kombu envelope has 'properties' that is not an object");
  if (!body || !body->is_string())
    return who.fail(decode_reason::bad_envelope,
                    fmt::format("{} has no string 'body': not a kombu envelope", who.describe()));

  task_message m;
  const json::value* content_type = env.find("content-type");
  if (!content_type || !content_type->is_string() || content_type->as_string() != "application/json") {
    std::string shown = content_type && content_type->is_string() ? "'" + content_type->as_string() + "'"
                        : content_type                              ? json::dump(*content_type)
                                                                    : "<missing>";
    return who.fail(decode_reason::unsupported_content_type,
                    fmt::format("{} has content-type {}{}: celeriac accepts JSON only, by design "
                                "(no pickle, yaml or msgpack); publish with task_serializer='json'",
                                who.describe(), shown,
                                content_type && content_type->is_string()
                                    ? serializer_of(content_type->as_string())
                                    : ""));
  }
  if (const json::value* ce = env.find("content-encoding"); ce && !ce->is_null()) {
    if (!ce->is_string() || !(ascii_iequals(ce->as_string(), "utf-8") || ascii_iequals(ce->as_string(), "utf8")))
      return who.fail(decode_reason::unsupported_content_encoding,
                      fmt::format("{} has content-encoding {}: JSON bodies must be utf-8", who.describe(),
                                  json::dump(*ce)));
    m.content_encoding = ce->as_string();
  }

  static const json::value no_object = json::object{};
  const json::value& props = properties && properties->is_object() ? *properties : no_object;
  const json::value& hdrs = headers && headers->is_object() ? *headers : no_object;

  // kombu only base64-decodes when body_encoding says so; absent means the
  // body string is the serialized payload itself.
  std::string body_text;
  const json::value* encoding = props.find("body_encoding");
  if (encoding && !encoding->is_null()) {
    if (!encoding->is_string() || encoding->as_string() != "base64")
      return who.fail(decode_reason::bad_body_encoding,
                      fmt::format("{} has body_encoding {}: only base64 is supported", who.describe(),
                                  json::dump(*encoding)));
    auto decoded = util::base64_decode(body->as_string());
    if (!decoded)
      return who.fail(decode_reason::bad_body_encoding,
                      fmt::format("{} has a body that is not valid base64", who.describe()));
    body_text = std::move(*decoded);
  } else {
    body_text = body->as_string();
  }

  auto body_json = json::parse(body_text);
  if (!body_json)
    return who.fail(decode_reason::bad_body, fmt::format("{} has a body that is not JSON ({})", who.describe(),
                                                         body_json.error().message));

  if (!hdrs.find("task")) {
    if (body_json->is_object() && body_json->find("task")) {
      if (!who.task_id)
        if (auto* id = string_member(*body_json, "id"); id && !id->empty()) who.task_id = *id;
      if (!who.task_name)
        if (auto* task = string_member(*body_json, "task"); task && !task->empty()) who.task_name = *task;
      return who.fail(decode_reason::protocol_v1,
                      fmt::format("{} uses Celery message protocol 1, which celeriac does not accept; "
                                  "configure the producer with task_protocol=2 (the default since Celery 4)",
                                  who.describe()));
    }
    return who.fail(decode_reason::missing_header,
                    fmt::format("{} has no 'task' header: cannot tell which task to run", who.describe()));
  }

  if (auto err = read_headers(hdrs, who, m.headers)) return std::move(*err);
  if (auto err = read_properties(props, who, m.properties)) return std::move(*err);
  if (!props.find("correlation_id")) m.properties.correlation_id = m.headers.id;
  if (auto err = read_body(std::move(*body_json), who, m)) return std::move(*err);
  return m;
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

std::string encode_body(const task_message& m) {
  std::string out = "[";
  json::dump_to(out, m.args);
  out += ", ";
  json::dump_to(out, m.kwargs);
  out += ", ";
  detail::object_writer embed(out);
  embed.member("callbacks", m.embed.callbacks);
  embed.member("errbacks", m.embed.errbacks);
  embed.member("chain", m.embed.chain);
  embed.member("chord", m.embed.chord);
  embed.members(m.embed.extra);
  embed.finish();
  out += "]";
  return out;
}

namespace {

void write_headers(std::string& out, const task_headers& h) {
  detail::object_writer w(out);
  w.member("lang", h.lang);
  w.member("task", h.task);
  w.member("id", h.id);
  w.member("shadow", h.shadow);
  w.member("eta", h.eta);
  w.member("expires", h.expires);
  w.member("group", h.group);
  w.member("group_index", h.group_index ? json::value(*h.group_index) : json::value());
  w.member("retries", json::value(h.retries));
  std::string& tl = w.key("timelimit");
  tl += "[";
  json::dump_to(tl, h.timelimit[0]);
  tl += ", ";
  json::dump_to(tl, h.timelimit[1]);
  tl += "]";
  w.member("root_id", h.root_id);
  w.member("parent_id", h.parent_id);
  w.member("argsrepr", h.argsrepr);
  w.member("kwargsrepr", h.kwargsrepr);
  w.member("origin", h.origin);
  w.member("ignore_result", json::value(h.ignore_result));
  w.members(h.extra);
  w.finish();
}

void write_properties(std::string& out, const task_properties& p) {
  detail::object_writer w(out);
  w.member("correlation_id", p.correlation_id);
  w.member("reply_to", p.reply_to);
  w.members(p.extra);
  w.member("delivery_mode", json::value(p.delivery_mode));
  if (p.expiration) w.member("expiration", *p.expiration);
  {
    detail::object_writer di(w.key("delivery_info"));
    di.member("exchange", p.delivery_info.exchange);
    di.member("routing_key", p.delivery_info.routing_key);
    di.members(p.delivery_info.extra);
    di.finish();
  }
  w.member("priority", json::value(p.priority));
  w.member("body_encoding", p.body_encoding);
  w.member("delivery_tag", p.delivery_tag);
  w.finish();
}

}  // namespace

std::string encode_message(const task_message& m) {
  std::string body = encode_body(m);
  std::string out;
  out.reserve(body.size() * 4 / 3 + 1024);
  detail::object_writer w(out);
  util::base64_encode_to(w.key("body") += "\"", body);
  out += "\"";
  w.member("content-encoding", m.content_encoding);
  w.member("content-type", m.content_type);
  write_headers(w.key("headers"), m.headers);
  write_properties(w.key("properties"), m.properties);
  w.finish();
  return out;
}

}  // namespace celeriac::celery
