#pragma once
// Celery's monitoring events on kombu's Redis transport, as pure functions
// (celery/events/event.py, dispatcher.py, worker/heartbeat.py,
// worker/request.py): the event bodies a worker sends and the kombu
// envelope they travel in.
//
// On Redis the `celeryev` exchange is a fanout (Celery's get_exchange
// switches it from topic), so an event is a PUBLISH on
// "/{db}.celeryev/<routing key>", the routing key being the event type
// with '-' turned into '.'. A worker sends task-* events buffered, as one
// "task.multi" message whose body is a JSON list (at most
// event_buffer_limit of them); worker-* events go one per message.
// Receivers (EventReceiver, Flower, `celery events`) accept both shapes.
//
// Every builder writes Celery's key order and json.dumps layout, so the
// bytes equal what Celery 5.2 publishes (tests/fixtures/celery-wire/
// event_*.json). `local_received` is not among them: the receiver adds it.

#include <array>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "json/value.hpp"

namespace celeriac::celery {

struct task_message;

inline constexpr std::string_view event_exchange = "celeryev";
inline constexpr std::string_view task_multi_routing_key = "task.multi";
// EventDispatcher(buffer_limit=24): the most events one task.multi holds.
inline constexpr std::size_t event_buffer_limit = 24;
// Heart(interval=2.0): seconds between worker-heartbeat events.
inline constexpr double heartbeat_freq = 2.0;

// Who sends: the fields EventDispatcher.publish puts first in every event.
struct event_sender {
  std::string hostname;        // the node name, e.g. "celeriac@host"
  std::int64_t utcoffset = 0;  // celery.utils.time.utcoffset(): see utcoffset_hours
  std::int64_t pid = 0;
};

// Event(type, hostname=, utcoffset=, pid=, clock=, **fields) as JSON
// text: the sender's fields, then `fields` in order, then timestamp (unix
// seconds) and type. Events are kept as text from here on: a batch is
// only joined, never re-serialised.
std::string event_json(std::string_view type, const event_sender& from, std::int64_t clock, double timestamp,
                       const json::object& fields);

// The body of a task.multi message: the events' JSON as a list.
std::string event_list_json(const std::vector<std::string>& events);

// The type-specific fields, in the order Celery's worker passes them.
// task-received: uuid, name, args and kwargs (the message's argsrepr and
// kwargsrepr), root_id, parent_id, retries, eta, expires.
json::object task_received_fields(const task_message& m);
json::object task_started_fields(std::string_view id);
// `result` is shown as saferepr(retval) (resultrepr_maxsize 1024), as
// Celery's tracer hands it to the event; runtime in seconds.
json::object task_succeeded_fields(std::string_view id, const json::value& result, double runtime);
// `exception` is repr(exc) (see exception_text); traceback is left out
// when nullopt (an unknown task's event carries none).
json::object task_failed_fields(std::string_view id, std::string_view exception,
                                const std::optional<std::string>& traceback);
json::object task_retried_fields(std::string_view id, std::string_view exception, std::string_view traceback);

struct revoke_flags {
  bool terminated = false;
  std::optional<std::int64_t> signum;  // the signal a terminated task was sent
  bool expired = false;
};
json::object task_revoked_fields(std::string_view id, const revoke_flags& how);
json::object task_rejected_fields(std::string_view id, bool requeue);

// What worker-online, -heartbeat and -offline carry (Heart._send).
struct worker_vitals {
  double freq = heartbeat_freq;
  std::int64_t active = 0;     // tasks running now on the node
  std::int64_t processed = 0;  // tasks the node has taken so far
  std::array<double, 3> loadavg{};
  std::string sw_ident;
  std::string sw_ver;
  std::string sw_sys;
};
json::object worker_fields(const worker_vitals& v);
// The remote-control `heartbeat` command's event: freq 5 and the software
// fields only (celery/worker/control.py heartbeat).
json::object requested_heartbeat_fields(const worker_vitals& v);

// repr() of a Python exception: Type('a', 1), Type() without args.
std::string exception_text(std::string_view type, const json::array& args);

// celery.utils.sysinfo.load_average(): each figure rounded up to 2 decimals.
std::array<double, 3> rounded_load_average(const std::array<double, 3>& raw);

// celery.utils.time.utcoffset() for a zone `gmtoff_seconds` east of UTC
// (tm_gmtoff of the local time now): hours west of UTC, floored as
// Python's // does (UTC+1 → -1, UTC-5 → 5, UTC+5:30 → -6).
std::int64_t utcoffset_hours(long gmtoff_seconds);

// "task-succeeded" → "task.succeeded".
std::string event_routing_key(std::string_view type);

// The channel kombu's Redis transport PUBLISHes an event on:
// fanout_prefix "/{db}." + "celeryev" + "/" + routing key.
std::string event_channel(int db, std::string_view routing_key);

// kombu's envelope around an event's (or a list's) JSON text: base64
// body, headers {"hostname": node}, delivery_mode 1, delivery_info
// {"exchange": "celeryev", "routing_key": ...}, priority 0, a delivery tag.
std::string encode_event_message(std::string_view body_json, std::string_view hostname,
                                 std::string_view routing_key, std::string_view delivery_tag);

// An event message as read back (tests, tools).
struct event_message {
  std::string hostname;     // headers.hostname
  std::string routing_key;  // properties.delivery_info.routing_key
  std::string delivery_tag;
  json::value body;  // an event object, or a list of them (task.multi)
};

struct event_error {
  std::string message;  // what was wrong with the message
};
std::ostream& operator<<(std::ostream& os, const event_error& e);

// Parses an event envelope. An error when it is not a JSON object with a
// base64 JSON body and a delivery_info routing key. Never throws.
boost::system::result<event_message, event_error> decode_event_message(std::string_view envelope);

}  // namespace celeriac::celery
