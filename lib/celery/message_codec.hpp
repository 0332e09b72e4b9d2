#pragma once
// kombu envelope text ↔ task_message.
//
// decode_message is the trust boundary for everything popped from a queue:
// it validates every field celeriac uses and never throws or crashes on
// garbage; anything it refuses should be dead-lettered and acked (a
// poison message never gets better by being retried).

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "celery/task_message.hpp"

namespace celeriac::celery {

enum class decode_reason {
  not_json,                      // envelope is not a JSON object
  bad_envelope,                  // body/headers/properties missing or of the wrong type
  unsupported_content_type,      // pickle, yaml, msgpack...: JSON only, by design
  unsupported_content_encoding,  // content-encoding other than utf-8
  bad_body_encoding,             // body_encoding not base64, or invalid base64
  bad_body,                      // body is not JSON [list, object, object|null] with valid embed
  protocol_v1,                   // Celery protocol 1 (task fields in the body)
  missing_header,                // headers.task or headers.id absent
  bad_header,                    // a header of the wrong type or an unparsable eta/expires
  bad_property,                  // a property of the wrong type
};

// Short stable code for logs and dead-letter entries: "not_json", "protocol_v1"...
std::string_view reason_code(decode_reason r) noexcept;

struct decode_error {
  decode_reason reason;
  std::string message;  // what was wrong, with the task name/id when known
  // Read whenever possible (headers.id, else properties.correlation_id,
  // else a v1 body's id) so the worker can still store a FAILURE result.
  std::optional<std::string> task_id;
  std::optional<std::string> task_name;
};
std::ostream& operator<<(std::ostream& os, const decode_error& e);

// Parses one kombu envelope (the exact bytes BRPOP returned). Accepts only
// content-type application/json with utf-8 content-encoding and a base64 (or
// absent) body_encoding. Absent optional headers/properties take Celery's
// defaults; headers.task and headers.id are required. Never throws.
boost::system::result<task_message, decode_error> decode_message(std::string_view envelope);

// "task.name[id]": for logs and test diagnostics.
std::ostream& operator<<(std::ostream& os, const task_message& m);

// The JSON text of the body list [args, kwargs, embed] (before base64).
std::string encode_body(const task_message& m);

// The envelope JSON text, byte-identical to kombu's json.dumps of the same
// fields: keys in Celery's order, ", "/": " separators, ensure_ascii, body
// = base64(encode_body(m)). properties.body_encoding is written as stored;
// the body is always base64-encoded.
std::string encode_message(const task_message& m);

}  // namespace celeriac::celery
