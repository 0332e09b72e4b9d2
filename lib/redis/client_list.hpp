#pragma once
// Reading CLIENT LIST's reply: one line per connection, space-separated
// `field=value` pairs ("id=7 addr=127.0.0.1:5040 ... name=x ..."). A
// client name cannot hold a space (Redis refuses one), so splitting on
// spaces is exact.

#include <cstdint>
#include <string_view>
#include <vector>

namespace celeriac::redis {

// The ids of the connections named `name` (CLIENT SETNAME), in the
// reply's order: what CLIENT KILL ID takes. Lines without a readable id
// are skipped.
std::vector<std::int64_t> client_ids_named(std::string_view client_list, std::string_view name);

}  // namespace celeriac::redis
