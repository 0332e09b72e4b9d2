#pragma once
// A Celery protocol v2 task message as kombu's Redis transport carries it:
// the envelope {body, content-encoding, content-type, headers, properties}
// with the body [args, kwargs, embed] already base64- and JSON-decoded.
//
// Field order in every struct is the order Celery 5.2 / kombu 5.2 write the
// keys (see celery/app/amqp.py as_task_v2 and kombu's Channel.prepare_message
// and _inplace_augment_message), so encode_message can reproduce their bytes.
// Keys Celery does not always write (custom headers, "redelivered",
// "replaced_task_nesting", extra embed keys) live in the `extra` objects, in
// the order they were received, at the position kombu puts them.
//
// Glossary (celeriac ↔ Celery):
//   task_message::headers.id  ↔ Request.id / task_id
//   embed.callbacks / errbacks ↔ link / link_error signatures
//   embed.chain                ↔ remaining chain steps, REVERSED (next is last)
//   embed.chord                ↔ the chord body signature (header tasks only)

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "json/value.hpp"
#include "util/clock.hpp"

namespace celeriac::celery {

// The queue Celery publishes to when none is given (task_default_queue).
inline constexpr std::string_view default_queue = "celery";

// headers: all of them always present on the wire, in this order.
struct task_headers {
  std::string lang = "py";
  std::string task;                  // registered task name
  std::string id;                    // task id (uuid4 for Celery clients)
  std::optional<std::string> shadow;
  std::optional<std::string> eta;      // ISO-8601 as sent ("...+00:00"); see eta_time()
  std::optional<std::string> expires;  // ISO-8601 as sent; see expires_time()
  std::optional<std::string> group;
  std::optional<std::int64_t> group_index;
  std::int64_t retries = 0;
  // "timelimit": [hard, soft] in seconds, each null or a number. Kept as JSON
  // so 30 and 30.0 round-trip as sent; see time_limit()/soft_time_limit().
  std::array<json::value, 2> timelimit{};
  std::optional<std::string> root_id;
  std::optional<std::string> parent_id;
  std::string argsrepr;
  std::string kwargsrepr;
  std::string origin;  // "gen<pid>@<host>" of the publishing process
  bool ignore_result = false;
  json::object extra;  // any other headers, in order ("x-custom", "redelivered", ...)
};

// properties.delivery_info.
struct routing_info {
  std::string exchange;     // "" = anonymous exchange (all Celery task messages)
  std::string routing_key;  // the queue name for the anonymous exchange
  json::object extra;       // e.g. "redelivered": true after a kombu restore
};

// properties, in kombu's order. `extra` holds send_task options kombu passes
// through as properties (e.g. "replaced_task_nesting", "origin" on a retry);
// kombu writes them between reply_to and delivery_mode.
struct task_properties {
  std::string correlation_id;  // = headers.id
  std::string reply_to;        // client's oid; "" when none
  json::object extra;
  std::int64_t delivery_mode = 2;
  std::optional<std::string> expiration;  // milliseconds as a string ("60000")
  routing_info delivery_info;
  std::int64_t priority = 0;  // 0-9; with Redis a LOWER number is served first
  std::string body_encoding = "base64";
  std::string delivery_tag;  // uuid4 per publish; key of kombu's unacked hash
};

// body[2]. Each canvas field is null or the JSON Celery wrote: callbacks,
// errbacks and chain are lists of signature objects, chord one signature.
// decode_message guarantees those shapes; see signature.hpp to read them.
struct canvas_embed {
  json::value callbacks;
  json::value errbacks;
  json::value chain;
  json::value chord;
  json::object extra;  // unknown embed keys, kept in order
};

struct task_message {
  task_headers headers;
  task_properties properties;
  std::string content_type = "application/json";
  std::string content_encoding = "utf-8";
  json::array args;
  json::object kwargs;
  canvas_embed embed;

  // headers.eta / headers.expires parsed. nullopt when absent; decode_message
  // refuses messages whose eta/expires do not parse, so a decoded message
  // with the string set always yields a time.
  std::optional<util::wall_time> eta_time() const;
  std::optional<util::wall_time> expires_time() const;

  // timelimit[0] / timelimit[1] in seconds, nullopt when null.
  std::optional<double> time_limit() const;
  std::optional<double> soft_time_limit() const;

  // True when kombu restored or requeued this message (headers.redelivered
  // or properties.delivery_info.redelivered is true).
  bool redelivered() const;

  // root_id, falling back to the task's own id as Celery does.
  const std::string& root_id_or_id() const;
};

}  // namespace celeriac::celery
