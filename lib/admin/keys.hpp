#pragma once
// The Redis keys the operator commands read and change. The dead-letter
// list and the crash counts are named as broker::transport_config names
// them by default; the queue lists, `unacked` and the binding sets are
// kombu's (celery/kombu_redis.hpp).

#include <string_view>

namespace celeriac::admin {

inline constexpr std::string_view dead_letter_key = "celeriac.dead";
inline constexpr std::string_view deliveries_key = "celeriac.deliveries";

// kombu's binding sets: _kombu.binding.<exchange>, members
// "<routing key>\x06\x16<pattern>\x06\x16<queue>".
inline constexpr std::string_view binding_prefix = "_kombu.binding.";

}  // namespace celeriac::admin
