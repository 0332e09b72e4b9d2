#pragma once
// A validated queue name. Queue names end up inside Redis key names, inside
// the JSON of `unacked` entries (written by a Lua script without a JSON
// encoder) and after kombu's "\x06\x16" separator, so the type refuses
// anything that could break one of those: it is the only way to name a
// queue in the broker API.

#include <optional>
#include <string>
#include <string_view>

namespace celeriac::broker {

class queue_name {
public:
  // Returns nullopt (and sets why) for an empty name, one longer than 200
  // bytes, or one with a quote, backslash, control byte or whitespace.
  static std::optional<queue_name> make(std::string_view name, std::string* why = nullptr);

  const std::string& str() const noexcept { return name_; }
  friend bool operator==(const queue_name&, const queue_name&) = default;

private:
  explicit queue_name(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

}  // namespace celeriac::broker
