#pragma once
// kombu 5.2's Redis transport conventions as pure functions
// (kombu/transport/redis.py): priority sub-queue names, binding set
// members, and the ack-emulation entries in the `unacked` hash.

#include <array>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

namespace celeriac::celery {

// Channel.sep: between a queue and its priority step, and between the
// parts of a binding member.
inline constexpr std::string_view kombu_sep = "\x06\x16";

// Channel.priority_steps: a message goes to the list of the largest step
// <= its priority.
inline constexpr std::array<std::int64_t, 4> priority_steps{0, 3, 6, 9};

// Name of the unacked hash, its index zset, and the restore lock.
inline constexpr std::string_view unacked_key = "unacked";
inline constexpr std::string_view unacked_index_key = "unacked_index";
inline constexpr std::string_view unacked_mutex_key = "unacked_mutex";

struct kombu_error {
  std::string message;
};
std::ostream& operator<<(std::ostream& os, const kombu_error& e);

// The Redis list a message of `priority` is LPUSHed to: `queue` for steps
// 0, else queue + sep + step ("celery\x06\x163"). Priority is clamped to
// 0..9 first, as _get_message_priority does: 0,2 → q; 3,5 → q+"3";
// 9, 12 → q+"9"; negative → q.
std::string queue_for_priority(std::string_view queue, std::int64_t priority);

// The 4 lists of one queue, in step order: q, q+"\x06\x163", +"6", +"9".
std::vector<std::string> priority_lists(std::string_view queue);

// BRPOP keys for several queues as kombu orders them: grouped by priority
// step ascending, all queues inside each step (q1, q2, q1+"3", q2+"3", ...).
// The BRPOP timeout argument is not included.
std::vector<std::string> priority_lists(std::span<const std::string> queues);

// The queue a popped list name belongs to: kombu strips everything from
// the last separator ("celery\x06\x163" → "celery"; "celery" → "celery").
std::string_view queue_of_list(std::string_view list_key);

// The member SADDed to _kombu.binding.<exchange> when `queue` is declared
// on the default exchange: routing_key + sep + pattern("") + sep + queue,
// with routing_key = queue ("celery\x06\x16\x06\x16celery").
std::string binding_member(std::string_view queue);

// The `unacked` hash value for a delivery: json.dumps([payload, exchange,
// routing_key]) with payload the envelope object. `payload` must be the
// envelope JSON text as popped (a JSON object); it is embedded verbatim,
// which gives kombu's exact bytes for kombu-formatted envelopes.
std::string unacked_entry(std::string_view payload, std::string_view exchange,
                          std::string_view routing_key);

struct unacked_parts {
  std::string payload;  // the envelope, re-serialised as kombu's dumps(loads(...)) would
  std::string exchange;
  std::string routing_key;  // the base queue to restore to (exchange "")
};

std::ostream& operator<<(std::ostream& os, const unacked_parts& p);

// Parses an `unacked` hash value. Error when it is not a JSON list of
// [object, string, string]. Never throws.
boost::system::result<unacked_parts, kombu_error> parse_unacked_entry(std::string_view text);

// The payload kombu's _do_restore_message pushes back: sets
// headers["redelivered"] = true, then properties.delivery_info
// ["redelivered"] = true (existing keys keep their position, new ones are
// appended; a missing headers/delivery_info stops the update there, as
// kombu's KeyError does). Byte-identical to kombu for kombu-formatted
// input. Error when payload is not a JSON object.
boost::system::result<std::string, kombu_error> mark_redelivered(std::string_view payload);

}  // namespace celeriac::celery
