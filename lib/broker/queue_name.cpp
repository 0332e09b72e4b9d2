#include "broker/queue_name.hpp"

#include <algorithm>

namespace celeriac::broker {

std::optional<queue_name> queue_name::make(std::string_view name, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<queue_name> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (name.empty()) return fail("a queue name cannot be empty");
  if (name.size() > 200) return fail("a queue name is limited to 200 bytes");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '"' || c == '\\')
      return fail("a queue name cannot contain spaces, quotes, backslashes or control characters");
  }
  return queue_name(std::string(name));
}

}  // namespace celeriac::broker
