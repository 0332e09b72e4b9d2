#pragma once
// One entry of the dead-letter list read back (pure: no I/O), what an
// operator may filter it by, and whether and where it can be requeued.
//
// Entries are written by celery::dead_letter_entry and by the fetch script
// (reason no_delivery_tag): {"reason", "message", ["task_id", "task",]
// "queue", "time", "raw" [, "raw_base64"]}. Anything else found in the list
// (an entry pushed by hand) is kept as text and never requeued.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

namespace celeriac::admin {

struct dead_entry {
  std::string text;          // the stored text, byte for byte (LREM matches on it)
  bool well_formed = false;  // a JSON object; false: only `text` is meaningful
  std::string reason;
  std::string message;
  std::string queue;  // the queue the message was taken from ("" when unknown)
  std::string time;   // ISO-8601, as stored
  // From the envelope when decode_message reads it, else what the entry
  // itself recorded.
  std::optional<std::string> task;
  std::optional<std::string> task_id;
  // The message as it was, when its exact bytes are known: absent when the
  // entry only has them in raw_base64 (not UTF-8) or has no raw at all.
  std::optional<std::string> raw;
  bool has_raw_base64 = false;
  // Read from the raw envelope when it is a JSON object.
  std::optional<std::string> delivery_tag;
  std::optional<std::string> routing_key;
  std::int64_t priority = 0;  // properties.priority; 0 when absent or not an integer, as kombu does
};

// Reads a stored entry. Never throws; see dead_entry::well_formed.
dead_entry parse_dead_entry(std::string text);

// Reason codes celeriac writes, for help texts and hints.
std::vector<std::string_view> known_reasons();

// "decode_error" stands for every decode_message refusal (not_json,
// bad_envelope, ... bad_property), so one filter catches them all.
inline constexpr std::string_view decode_error_group = "decode_error";

// True when `reason` is a code celeriac writes or decode_error_group.
bool is_known_reason(std::string_view reason);

// Which entries a command acts on; an unset field matches everything.
struct dead_filter {
  std::optional<std::string> reason;   // exact code, or decode_error_group
  std::optional<std::string> task_id;  // the envelope's headers.id
  bool matches(const dead_entry& e) const;
};

// Where a requeued message goes: LPUSHed (the back of the queue, as a new
// publish) onto `list`, the priority list kombu would publish it to.
struct requeue_plan {
  std::string queue;
  std::string list;          // queue or queue + "\x06\x16<step>"
  std::string envelope;      // the raw message, exactly
  std::string delivery_tag;  // its field in celeriac.deliveries is dropped
};

struct requeue_refusal {
  std::string why;  // e.g. "the message has no readable delivery tag; ..."
};

// The plan for an entry, or why it cannot be requeued: no exact raw
// envelope (no_delivery_tag, raw_base64, not a JSON object), no delivery
// tag, or no valid queue (the entry's "queue", else the envelope's
// routing key).
boost::system::result<requeue_plan, requeue_refusal> plan_requeue(const dead_entry& e);

}  // namespace celeriac::admin
