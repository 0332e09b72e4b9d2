#pragma once
// Celery's remote control ("pidbox") messages on kombu's Redis transport,
// as pure functions: the request a client PUBLISHes on the fanout exchange
// `celery.pidbox`, and the reply a worker LPUSHes to the client's reply
// queue (kombu/pidbox.py Mailbox._publish / Node.dispatch / _publish_reply).
//
// Any method with any arguments: revoke, ping, and whatever issue 9 adds.
// Encoders write kombu's exact bytes (keys in its order, json.dumps
// layout), so Celery workers obey our requests and Celery clients read our
// replies.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "json/value.hpp"

namespace celeriac::celery {

// Mailbox("celery", type="fanout"): requests go to this exchange, replies
// to the direct exchange reply.celery.pidbox.
inline constexpr std::string_view pidbox_exchange = "celery.pidbox";
inline constexpr std::string_view pidbox_reply_exchange = "reply.celery.pidbox";
inline constexpr std::string_view pidbox_binding_key = "_kombu.binding.celery.pidbox";

// The channel kombu PUBLISHes requests on and workers PSUBSCRIBE to:
// fanout_prefix "/{db}." + exchange (no "/routing_key" suffix: it is "").
std::string pidbox_channel(int db);

// "<node>.celery.pidbox": the node's queue (never used as a list on Redis:
// delivery is by PUBLISH; only its binding matters).
std::string pidbox_queue(std::string_view node);

// The member a worker SADDs to _kombu.binding.celery.pidbox:
// "" + sep + "" + sep + "<node>.celery.pidbox" (empty routing key).
std::string pidbox_binding_member(std::string_view node);

// "_kombu.binding.<exchange>": the set a direct exchange's queues are
// bound in (for replies: _kombu.binding.reply.celery.pidbox).
std::string exchange_binding_key(std::string_view exchange);

// A client's reply queue "<oid>.reply.celery.pidbox" and its binding
// member "<oid>" + sep + "" + sep + "<oid>.reply.celery.pidbox".
std::string pidbox_reply_queue(std::string_view oid);
std::string pidbox_reply_binding_member(std::string_view oid);

// Where a reply goes: kombu's reply_to {"exchange", "routing_key"}; the
// routing key is the client's oid.
struct reply_address {
  std::string exchange = std::string(pidbox_reply_exchange);
  std::string routing_key{};
  friend bool operator==(const reply_address&, const reply_address&) = default;
};

struct control_request {
  // The body, in kombu's key order.
  std::string method;      // "revoke", "ping", ...
  json::object arguments;  // keyword arguments of the command ({} when absent or null)
  // Node names the request is for; nullopt (JSON null) means every node.
  std::optional<std::vector<std::string>> destination;
  std::optional<std::string> pattern;  // with matcher: nodes whose name matches
  std::optional<std::string> matcher;  // "glob" (fnmatch) or "pcre" (re.match)
  std::optional<std::string> ticket;   // present when a reply is wanted
  std::optional<reply_address> reply_to;

  // The envelope.
  std::int64_t clock = 0;  // headers.clock: the sender's Lamport clock
  // headers.expires: unix seconds after which the client stops listening;
  // 0 when no reply is expected (written as the integer 0, as kombu does).
  double expires = 0;
  std::string delivery_tag;  // properties.delivery_tag (a uuid4)

  // kombu's Node.handle_message: in `destination` when it is a non-empty
  // list; else matched by pattern+matcher when both are set; else true.
  // An unknown matcher matches nothing (kombu raises and ignores the request).
  bool addressed_to(std::string_view node) const;

  // True when the client asked for a reply and said where.
  bool wants_reply() const noexcept { return reply_to.has_value(); }
};

// The reply of one node to one request.
struct control_reply {
  std::string node{};                   // the body is {"<node>": value}
  json::value value{};                  // e.g. {"ok": "pong"}
  std::optional<std::string> ticket{};  // the request's ticket (headers.ticket)
  std::int64_t clock = 0;               // headers.clock: the replier's Lamport clock
  reply_address to{};                   // properties.delivery_info
  std::string delivery_tag{};           // properties.delivery_tag
};

struct pidbox_error {
  std::string message;  // what was wrong with the message
};
std::ostream& operator<<(std::ostream& os, const pidbox_error& e);

// Parses the envelope a client PUBLISHed. Accepts only JSON content with a
// base64 body holding a JSON object with a string "method"; every other
// field is checked for its type. Never throws.
boost::system::result<control_request, pidbox_error> decode_control_request(std::string_view envelope);

// The envelope kombu's Mailbox._publish writes: body {method, arguments,
// destination, pattern, matcher[, ticket, reply_to]} (ticket and reply_to
// only when reply_to is set), headers {clock, expires}, delivery_mode 2,
// delivery_info {"exchange": "celery.pidbox", "routing_key": ""}.
std::string encode_control_request(const control_request& r);

// The envelope kombu's Mailbox._publish_reply writes: body {node: value},
// headers {ticket, clock}, delivery_mode 1, delivery_info = `to`.
std::string encode_control_reply(const control_reply& r);

// Parses a reply popped from a reply queue. The body must be a JSON object
// with at least one member (the first is taken). Never throws.
boost::system::result<control_reply, pidbox_error> decode_control_reply(std::string_view envelope);

// The values Celery's control commands reply with: {"ok": text} and
// {"error": text} (celery/worker/control.py ok() / nok()).
json::value control_ok(std::string text);
json::value control_error(std::string text);

}  // namespace celeriac::celery
