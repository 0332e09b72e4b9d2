#pragma once
// Where messages wait for a time in Redis: one sorted set per queue,
// celeriac.delayed.<queue>, scored by when the message may go back to its
// queue (unix seconds). A member is "<priority step>\n<envelope>": the
// envelope exactly as it was in the queue, and the kombu priority step of
// the list it returns to. Members are unique because envelopes carry a
// unique delivery tag.
//
// Eta/countdown messages due later than the worker's horizon, retries with
// such a countdown, and rate-limited runs not yet admissible wait here, so
// a million of them cost no worker memory and survive every restart.

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/queue_name.hpp"

namespace celeriac::broker {

inline constexpr std::string_view delayed_prefix = "celeriac.delayed.";

inline std::string delayed_key(const queue_name& queue) { return std::string(delayed_prefix) + queue.str(); }

// The member for an envelope published with `priority` (kombu's priority
// field, 0-9 or anything: mapped to its step as kombu maps publishes).
std::string delayed_member(std::int64_t priority, std::string_view envelope);

}  // namespace celeriac::broker
