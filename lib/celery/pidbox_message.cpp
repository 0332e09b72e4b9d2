#include "celery/pidbox_message.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <ostream>
#include <regex>

#include <fmt/format.h>

#include "celery/json_writer.hpp"
#include "celery/kombu_redis.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "util/base64.hpp"

namespace celeriac::celery {
namespace {

using boost::system::result;

pidbox_error fail(std::string message) { return pidbox_error{std::move(message)}; }

// kombu's glob matcher is fnmatch.fnmatch(name, pattern); its pcre matcher
// re.match(pattern, name), which anchors at the start only.
bool matches(std::string_view node, const std::string& pattern, const std::string& matcher) {
  if (matcher == "glob") return ::fnmatch(pattern.c_str(), std::string(node).c_str(), 0) == 0;
  if (matcher != "pcre") return false;
  try {
    const std::regex re(pattern);
    const std::string name(node);
    return std::regex_search(name, re, std::regex_constants::match_continuous);
  } catch (const std::regex_error&) {
    return false;
  }
}

// The parts every pidbox envelope shares.
struct envelope_parts {
  json::value body;
  json::object headers;
  json::value delivery_info;
  std::string delivery_tag;
};

// `what` names the message kind in errors ("control request").
result<envelope_parts, pidbox_error> read_envelope(std::string_view text, std::string_view what) {
  auto parsed = json::parse(text);
  if (!parsed || !parsed->is_object()) return fail(fmt::format("the {} is not a JSON object", what));
  const json::value& env = *parsed;
  const json::value* type = env.find("content-type");
  if (type && !(type->is_string() && type->as_string() == "application/json"))
    return fail(fmt::format("the {} is not JSON content (content-type {})", what, json::dump(*type)));
  const json::value* body = env.find("body");
  if (!body || !body->is_string()) return fail(fmt::format("the {} has no string body", what));
  const json::value* props = env.find("properties");
  if (props && !props->is_object()) return fail(fmt::format("the {}'s properties are not an object", what));
  std::string body_text = body->as_string();
  const json::value* encoding = props ? props->find("body_encoding") : nullptr;
  if (encoding && !encoding->is_null()) {
    if (!encoding->is_string() || encoding->as_string() != "base64")
      return fail(fmt::format("the {} has body_encoding {}: only base64 is supported", what, json::dump(*encoding)));
    auto decoded = util::base64_decode(body_text);
    if (!decoded) return fail(fmt::format("the {}'s body is not valid base64", what));
    body_text = std::move(*decoded);
  }
  auto body_json = json::parse(body_text);
  if (!body_json || !body_json->is_object())
    return fail(fmt::format("the {}'s body is not a JSON object", what));
  envelope_parts parts;
  parts.body = std::move(*body_json);
  if (const json::value* h = env.find("headers"); h && h->is_object()) parts.headers = h->as_object();
  if (props) {
    if (const json::value* di = props->find("delivery_info")) parts.delivery_info = *di;
    if (const json::value* tag = props->find("delivery_tag"); tag && tag->is_string())
      parts.delivery_tag = tag->as_string();
  }
  return parts;
}

const json::value* header(const json::object& headers, std::string_view key) {
  for (const auto& [k, v] : headers)
    if (k == key) return &v;
  return nullptr;
}

// A header Celery sends as an int; anything else reads as 0 (kombu's
// `headers.get('clock') or 0`).
std::int64_t clock_of(const json::object& headers) {
  const json::value* c = header(headers, "clock");
  return c && c->is_integer() ? c->as_integer() : 0;
}

// Reads an optional string member: absent or null → nullopt.
result<std::optional<std::string>, pidbox_error> optional_string(const json::value& body, std::string_view key) {
  const json::value* v = body.find(key);
  if (!v || v->is_null()) return std::optional<std::string>{};
  if (!v->is_string()) return fail(fmt::format("control request field \"{}\" is not a string or null", key));
  return std::optional<std::string>(v->as_string());
}

result<std::optional<std::vector<std::string>>, pidbox_error> read_destination(const json::value& body) {
  const json::value* v = body.find("destination");
  if (!v || v->is_null()) return std::optional<std::vector<std::string>>{};
  if (!v->is_array()) return fail("control request field \"destination\" is not a list of node names or null");
  std::vector<std::string> nodes;
  for (const auto& n : v->as_array()) {
    if (!n.is_string()) return fail("control request field \"destination\" holds a non-string node name");
    nodes.push_back(n.as_string());
  }
  return std::optional<std::vector<std::string>>(std::move(nodes));
}

result<std::optional<reply_address>, pidbox_error> read_reply_to(const json::value& body) {
  const json::value* v = body.find("reply_to");
  if (!v || v->is_null()) return std::optional<reply_address>{};
  const json::value* exchange = v->find("exchange");
  const json::value* key = v->find("routing_key");
  if (!exchange || !exchange->is_string() || !key || !key->is_string())
    return fail("control request field \"reply_to\" is not {\"exchange\": str, \"routing_key\": str}");
  return std::optional<reply_address>(reply_address{exchange->as_string(), key->as_string()});
}

// Writes kombu's envelope around an already serialised body.
std::string write_envelope(std::string_view body_json, std::string_view headers_json, std::int64_t delivery_mode,
                           const reply_address& delivery_info, std::string_view delivery_tag) {
  std::string out;
  detail::object_writer w(out);
  util::base64_encode_to(w.key("body") += "\"", body_json);
  out += "\"";
  w.member("content-encoding", "utf-8");
  w.member("content-type", "application/json");
  w.key("headers") += headers_json;
  std::string& props_out = w.key("properties");
  detail::object_writer props(props_out);
  props.member("delivery_mode", json::value(delivery_mode));
  {
    detail::object_writer di(props.key("delivery_info"));
    di.member("exchange", delivery_info.exchange);
    di.member("routing_key", delivery_info.routing_key);
    di.finish();
  }
  props.member("priority", json::value(0));
  props.member("body_encoding", "base64");
  props.member("delivery_tag", delivery_tag);
  props.finish();
  w.finish();
  return out;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const pidbox_error& e) { return os << e.message; }

std::string pidbox_channel(int db) { return fmt::format("/{}.{}", db, pidbox_exchange); }

std::string pidbox_queue(std::string_view node) { return fmt::format("{}.{}", node, pidbox_exchange); }

std::string pidbox_binding_member(std::string_view node) {
  return fmt::format("{}{}{}", kombu_sep, kombu_sep, pidbox_queue(node));
}

std::string exchange_binding_key(std::string_view exchange) { return fmt::format("_kombu.binding.{}", exchange); }

std::string pidbox_reply_queue(std::string_view oid) { return fmt::format("{}.{}", oid, pidbox_reply_exchange); }

std::string pidbox_reply_binding_member(std::string_view oid) {
  return fmt::format("{}{}{}{}", oid, kombu_sep, kombu_sep, pidbox_reply_queue(oid));
}

bool control_request::addressed_to(std::string_view node) const {
  if (destination && !destination->empty())
    return std::find(destination->begin(), destination->end(), node) != destination->end();
  if (pattern && matcher && !pattern->empty() && !matcher->empty()) return matches(node, *pattern, *matcher);
  return true;
}

boost::system::result<control_request, pidbox_error> decode_control_request(std::string_view envelope) {
  auto parts = read_envelope(envelope, "control request");
  if (!parts) return parts.error();
  const json::value& body = parts->body;
  control_request r;
  const json::value* method = body.find("method");
  if (!method || !method->is_string() || method->as_string().empty())
    return fail("the control request has no \"method\" string");
  r.method = method->as_string();
  if (const json::value* args = body.find("arguments"); args && !args->is_null()) {
    if (!args->is_object())
      return fail(fmt::format("control request {}: \"arguments\" is not an object", r.method));
    r.arguments = args->as_object();
  }
  auto destination = read_destination(body);
  if (!destination) return destination.error();
  r.destination = std::move(*destination);
  auto pattern = optional_string(body, "pattern");
  auto matcher = optional_string(body, "matcher");
  auto ticket = optional_string(body, "ticket");
  auto reply_to = read_reply_to(body);
  for (auto* e : {&pattern, &matcher, &ticket})
    if (!*e) return e->error();
  if (!reply_to) return reply_to.error();
  r.pattern = std::move(*pattern);
  r.matcher = std::move(*matcher);
  r.ticket = std::move(*ticket);
  r.reply_to = std::move(*reply_to);
  r.clock = clock_of(parts->headers);
  if (const json::value* e = header(parts->headers, "expires"); e && e->is_number()) r.expires = e->as_double();
  r.delivery_tag = std::move(parts->delivery_tag);
  return r;
}

std::string encode_control_request(const control_request& r) {
  std::string body;
  detail::object_writer b(body);
  b.member("method", r.method);
  b.member("arguments", json::value(r.arguments));
  if (r.destination) {
    json::array nodes(r.destination->begin(), r.destination->end());
    b.member("destination", json::value(std::move(nodes)));
  } else {
    b.member("destination", json::value());
  }
  b.member("pattern", r.pattern);
  b.member("matcher", r.matcher);
  if (r.reply_to) {
    b.member("ticket", r.ticket);
    detail::object_writer to(b.key("reply_to"));
    to.member("exchange", r.reply_to->exchange);
    to.member("routing_key", r.reply_to->routing_key);
    to.finish();
  }
  b.finish();

  std::string headers;
  detail::object_writer h(headers);
  h.member("clock", json::value(r.clock));
  // kombu writes `time() + timeout if timeout else 0`: a float, or the int 0.
  h.member("expires", r.expires == 0 ? json::value(0) : json::value(r.expires));
  h.finish();
  return write_envelope(body, headers, 2, reply_address{std::string(pidbox_exchange), ""}, r.delivery_tag);
}

std::string encode_control_reply(const control_reply& r) {
  std::string body;
  detail::object_writer b(body);
  b.member(r.node, r.value);
  b.finish();
  std::string headers;
  detail::object_writer h(headers);
  h.member("ticket", r.ticket);
  h.member("clock", json::value(r.clock));
  h.finish();
  return write_envelope(body, headers, 1, r.to, r.delivery_tag);
}

boost::system::result<control_reply, pidbox_error> decode_control_reply(std::string_view envelope) {
  auto parts = read_envelope(envelope, "control reply");
  if (!parts) return parts.error();
  const json::object& body = parts->body.as_object();
  if (body.empty()) return fail("the control reply's body names no node");
  control_reply r;
  r.node = body.front().first;
  r.value = body.front().second;
  if (const json::value* t = header(parts->headers, "ticket"); t && t->is_string()) r.ticket = t->as_string();
  r.clock = clock_of(parts->headers);
  const json::value& di = parts->delivery_info;
  if (const json::value* e = di.find("exchange"); e && e->is_string()) r.to.exchange = e->as_string();
  if (const json::value* k = di.find("routing_key"); k && k->is_string()) r.to.routing_key = k->as_string();
  r.delivery_tag = std::move(parts->delivery_tag);
  return r;
}

json::value control_ok(std::string text) { return json::value(json::object{{"ok", json::value(std::move(text))}}); }

json::value control_error(std::string text) {
  return json::value(json::object{{"error", json::value(std::move(text))}});
}

}  // namespace celeriac::celery
