#include "celery/canvas.hpp"

#include <ostream>
#include <utility>

#include <fmt/format.h>

#include "celery/message_builder.hpp"
#include "json/dump.hpp"
#include "util/uuid.hpp"

namespace celeriac::celery {

std::ostream& operator<<(std::ostream& os, const canvas_error& e) { return os << e.message; }

namespace {

using message_result = boost::system::result<task_message, canvas_error>;

// Options send_task, send_task_message or Producer.publish consume
// without them reaching the message; celeriac publishes to the anonymous
// exchange only, so the routing ones have nothing left to do.
constexpr std::string_view consumed_options[] = {
    "exchange",       "exchange_type", "serializer", "compression",  "retry",       "retry_policy",
    "declare",        "producer",      "connection", "router",       "result_cls",  "publisher",
    "add_to_parent",  "route_name",    "task_type",  "content_type", "content_encoding",
    "mandatory",      "immediate",     "timeout",    "expiration",   "event_dispatcher",
};

bool is_consumed(std::string_view key) {
  for (auto k : consumed_options)
    if (k == key) return true;
  return false;
}

// What the caller of Signature.apply_async passes on top of sig.options;
// these win over the signature's own options, as in Celery's _merge.
struct apply_overrides {
  json::array prepend;  // args placed before sig.args unless immutable
  std::optional<std::string> parent_id;
  std::optional<std::string> root_id;
  std::optional<std::string> group;
  std::optional<json::value> chain;  // the embed.chain to send
  // argsrepr's outer form when given; else a tuple when prepending (see
  // canvas.hpp), the signature's own list otherwise.
  std::optional<sequence_style> args_style{};
};

json::value as_signature_list(const json::value& v) {
  if (v.is_null() || v.is_array()) return v;
  return json::array{v};
}

// Signature.apply_async → send_task for a plain task signature.
message_result apply_signature(const signature& sig, apply_overrides over, const publish_context& ctx) {
  auto bad = [&](std::string_view key, const json::value& v, std::string_view expected) {
    return canvas_error{fmt::format("cannot apply signature of task {}: option '{}' = {} is not {}", sig.task,
                                    key, json::dump(v), expected)};
  };
  if (!sig.is_plain_task())
    return canvas_error{fmt::format("cannot apply a {} signature ({}): celeriac publishes plain task "
                                    "signatures only; run this canvas from a Celery client instead",
                                    json::dump(sig.subtask_type), sig.task)};

  message_options o;
  o.now = ctx.now;
  o.origin = ctx.origin;
  json::value callbacks, errbacks, chain, chord;
  std::optional<std::string> queue, routing_key;
  std::optional<std::int64_t> delivery_mode;

  for (const auto& [key, v] : sig.options) {
    if (key == "task_id") {
      if (!v.is_null() && !v.is_string()) return bad(key, v, "a string");
      if (v.is_string()) o.task_id = v.as_string();
    } else if (key == "queue") {
      // A kombu Queue serialises as a dict with its name.
      const json::value* name = v.is_object() ? v.find("name") : &v;
      if (name && name->is_string())
        queue = name->as_string();
      else if (!v.is_null())
        return bad(key, v, "a queue name");
    } else if (key == "routing_key") {
      if (v.is_string()) routing_key = v.as_string();
    } else if (key == "priority") {
      if (!v.is_null() && !v.is_integer()) return bad(key, v, "an integer");
      if (v.is_integer()) o.priority = v.as_integer();
    } else if (key == "countdown") {
      if (!v.is_null() && !v.is_number()) return bad(key, v, "a number of seconds");
      if (v.is_number()) o.countdown = v.as_double();
    } else if (key == "eta") {
      if (v.is_null()) continue;
      auto t = v.is_string() ? util::parse_iso8601(v.as_string()) : std::nullopt;
      if (!t) return bad(key, v, "an ISO-8601 date-time");
      o.eta = *t;
    } else if (key == "expires") {
      if (v.is_number()) {
        o.expires_in = v.as_double();
      } else if (v.is_string()) {
        auto t = util::parse_iso8601(v.as_string());
        if (!t) return bad(key, v, "seconds or an ISO-8601 date-time");
        o.expires_at = *t;
      } else if (!v.is_null()) {
        return bad(key, v, "seconds or an ISO-8601 date-time");
      }
    } else if (key == "time_limit" || key == "soft_time_limit") {
      if (!v.is_null() && !v.is_number()) return bad(key, v, "a number of seconds");
      if (v.is_number()) (key == "time_limit" ? o.time_limit : o.soft_time_limit) = v.as_double();
    } else if (key == "shadow") {
      if (v.is_string()) o.shadow = v.as_string();
    } else if (key == "link" || key == "link_error") {
      json::value list = as_signature_list(v);
      if (list.is_array())
        for (const auto& item : list.as_array())
          if (!decode_signature(item)) return bad(key, v, "a signature or a list of signatures");
      (key == "link" ? callbacks : errbacks) = std::move(list);
    } else if (key == "chain") {
      if (!v.is_null() && !v.is_array()) return bad(key, v, "a list of signatures");
      chain = v;
    } else if (key == "chord") {
      if (!v.is_null() && !decode_signature(v)) return bad(key, v, "a signature");
      chord = v;
    } else if (key == "group_id") {
      if (v.is_string()) o.group = v.as_string();
    } else if (key == "group_index") {
      if (!v.is_null() && !v.is_integer()) return bad(key, v, "an integer");
      if (v.is_integer()) o.group_index = v.as_integer();
    } else if (key == "retries") {
      if (!v.is_null() && !v.is_integer()) return bad(key, v, "an integer");
      if (v.is_integer()) o.retries = v.as_integer();
    } else if (key == "reply_to") {
      if (v.is_string()) o.reply_to = v.as_string();
    } else if (key == "root_id") {
      if (v.is_string()) o.root_id = v.as_string();
    } else if (key == "parent_id") {
      if (v.is_string()) o.parent_id = v.as_string();
    } else if (key == "ignore_result") {
      if (v.is_bool()) o.ignore_result = v.as_bool();
    } else if (key == "headers") {
      if (!v.is_null() && !v.is_object()) return bad(key, v, "an object");
      if (v.is_object()) o.headers = v.as_object();
    } else if (key == "argsrepr") {
      if (v.is_string()) o.argsrepr = v.as_string();
    } else if (key == "kwargsrepr") {
      if (v.is_string()) o.kwargsrepr = v.as_string();
    } else if (key == "delivery_mode") {
      if (v.is_integer()) delivery_mode = v.as_integer();
    } else if (!is_consumed(key)) {
      o.properties.emplace_back(key, v);  // kombu passes leftovers on as properties
    }
  }

  o.queue = queue ? *queue : routing_key ? *routing_key : std::string(default_queue);
  if (over.parent_id) o.parent_id = std::move(over.parent_id);
  if (over.root_id) o.root_id = std::move(over.root_id);
  if (over.group) o.group = std::move(over.group);
  if (over.chain) chain = std::move(*over.chain);

  // Celery's Signature._merge builds a tuple only when it prepends.
  json::array args;
  if (sig.immutable || over.prepend.empty()) {
    args = sig.args;
  } else {
    o.args_style = sequence_style::tuple;
    args = std::move(over.prepend);
    args.insert(args.end(), sig.args.begin(), sig.args.end());
  }
  if (over.args_style) o.args_style = *over.args_style;

  task_message m = make_task_message(sig.task, std::move(args), sig.kwargs, std::move(o));
  m.embed.callbacks = std::move(callbacks);
  m.embed.errbacks = std::move(errbacks);
  m.embed.chain = std::move(chain);
  m.embed.chord = std::move(chord);
  if (delivery_mode) m.properties.delivery_mode = *delivery_mode;
  return m;
}

boost::system::result<std::vector<signature>, canvas_error> signatures_of(const json::value& list,
                                                                           std::string_view what,
                                                                           const task_message& m) {
  std::vector<signature> out;
  if (list.is_null()) return out;
  if (!list.is_array())
    return canvas_error{fmt::format("task {}[{}] has embed.{} that is not a list", m.headers.task,
                                    m.headers.id, what)};
  for (const auto& item : list.as_array()) {
    auto sig = decode_signature(item);
    if (!sig)
      return canvas_error{fmt::format("task {}[{}] has an invalid embed.{} entry: {}", m.headers.task,
                                      m.headers.id, what, sig.error().message)};
    out.push_back(std::move(*sig));
  }
  return out;
}

}  // namespace

boost::system::result<task_message, canvas_error> task_message_for(const signature& sig, sequence_style args_style,
                                                                   const publish_context& ctx) {
  apply_overrides over;
  over.args_style = args_style;
  return apply_signature(sig, std::move(over), ctx);
}

boost::system::result<std::optional<task_message>, canvas_error> next_chain_message(const task_message& finished,
                                                                                    const json::value& result,
                                                                                    const publish_context& ctx) {
  const json::value& chain = finished.embed.chain;
  if (chain.is_null() || (chain.is_array() && chain.as_array().empty())) return std::optional<task_message>{};
  if (!chain.is_array())
    return canvas_error{fmt::format("task {}[{}] has embed.chain that is not a list", finished.headers.task,
                                    finished.headers.id)};
  auto next = decode_signature(chain.as_array().back());
  if (!next)
    return canvas_error{fmt::format("task {}[{}] has an invalid next chain step: {}", finished.headers.task,
                                    finished.headers.id, next.error().message)};

  apply_overrides over;
  over.prepend.push_back(result);
  over.parent_id = finished.headers.id;
  over.root_id = finished.root_id_or_id();
  json::array rest(chain.as_array().begin(), chain.as_array().end() - 1);
  over.chain = json::value(std::move(rest));
  auto m = apply_signature(*next, std::move(over), ctx);
  if (!m) return m.error();
  return std::optional<task_message>(std::move(*m));
}

boost::system::result<task_message, canvas_error> callback_message(const signature& sig, const json::value& result,
                                                                   const task_message& parent,
                                                                   const publish_context& ctx) {
  apply_overrides over;
  over.prepend.push_back(result);
  over.parent_id = parent.headers.id;
  over.root_id = parent.root_id_or_id();
  return apply_signature(sig, std::move(over), ctx);
}

boost::system::result<std::vector<task_message>, canvas_error> callback_messages(const task_message& parent,
                                                                                 const json::value& result,
                                                                                 const publish_context& ctx) {
  auto sigs = signatures_of(parent.embed.callbacks, "callbacks", parent);
  if (!sigs) return sigs.error();
  std::vector<task_message> out;
  // Several callbacks go out as one group (celery/app/trace.py).
  std::optional<std::string> group;
  if (sigs->size() > 1) group = util::uuid4();
  for (const auto& sig : *sigs) {
    apply_overrides over;
    over.prepend.push_back(result);
    over.parent_id = parent.headers.id;
    over.root_id = parent.root_id_or_id();
    over.group = group;
    auto m = apply_signature(sig, std::move(over), ctx);
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

boost::system::result<task_message, canvas_error> errback_message(const signature& sig, const task_message& failed,
                                                                  const std::string& group_id,
                                                                  const publish_context& ctx) {
  apply_overrides over;
  over.prepend.push_back(failed.headers.id);
  over.parent_id = failed.headers.id;
  over.root_id = failed.root_id_or_id();
  over.group = group_id;
  return apply_signature(sig, std::move(over), ctx);
}

boost::system::result<std::vector<task_message>, canvas_error> errback_messages(const task_message& failed,
                                                                                const publish_context& ctx) {
  auto sigs = signatures_of(failed.embed.errbacks, "errbacks", failed);
  if (!sigs) return sigs.error();
  std::vector<task_message> out;
  if (sigs->empty()) return out;
  const std::string group = util::uuid4();
  for (const auto& sig : *sigs) {
    auto m = errback_message(sig, failed, group, ctx);
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

boost::system::result<task_message, canvas_error> chord_callback_message(const signature& body, json::array results,
                                                                         const task_message& completing,
                                                                         const publish_context& ctx) {
  apply_overrides over;
  over.prepend.push_back(json::value(std::move(results)));
  over.parent_id = completing.headers.id;
  over.root_id = completing.root_id_or_id();
  return apply_signature(body, std::move(over), ctx);
}

task_message retry_message(const task_message& current, const retry_options& options, const publish_context& ctx) {
  constexpr double default_retry_delay = 180;  // Task.default_retry_delay
  const task_headers& h = current.headers;
  const util::wall_time now = ctx.now.value_or(util::wall_now());

  message_options o;
  o.now = now;
  o.origin = ctx.origin;
  o.task_id = h.id;
  o.queue = current.properties.delivery_info.routing_key.empty() ? std::string(default_queue)
                                                                 : current.properties.delivery_info.routing_key;
  o.priority = current.properties.priority;
  o.retries = h.retries + 1;
  o.parent_id = h.parent_id && !h.parent_id->empty() ? *h.parent_id : h.id;
  o.root_id = current.root_id_or_id();
  o.group = h.group;
  o.group_index = h.group_index;
  o.shadow = h.shadow;
  o.ignore_result = h.ignore_result;
  o.reply_to = current.properties.reply_to;
  if (options.eta && !options.countdown)
    o.eta = options.eta;
  else
    o.countdown = options.countdown.value_or(default_retry_delay);
  if (auto expires = current.expires_time()) o.expires_at = *expires;
  o.args_style = sequence_style::tuple;  // Celery rebuilds the signature with a tuple

  // Request.as_execution_options: these become properties via kombu.
  const json::value* nesting = nullptr;
  for (const auto& [k, v] : h.extra)
    if (k == "replaced_task_nesting") nesting = &v;
  o.properties.emplace_back("replaced_task_nesting", nesting ? *nesting : json::value(0));
  o.properties.emplace_back("origin", h.origin);

  task_message m = make_task_message(h.task, options.args.value_or(current.args),
                                     options.kwargs.value_or(current.kwargs), std::move(o));
  m.headers.timelimit = h.timelimit;
  if (h.expires) m.headers.expires = h.expires;  // kept verbatim, as Celery passes the ISO string on
  m.embed.callbacks = current.embed.callbacks;
  m.embed.errbacks = current.embed.errbacks;
  m.embed.chain = current.embed.chain;
  m.embed.chord = current.embed.chord;
  return m;
}

}  // namespace celeriac::celery
