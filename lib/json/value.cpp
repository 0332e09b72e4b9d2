#include "json/value.hpp"

#include <stdexcept>

namespace celeriac::json {

const value* value::find(std::string_view key) const noexcept {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : std::get<object>(v_))
    if (k == key) return &v;
  return nullptr;
}

value* value::find(std::string_view key) noexcept {
  return const_cast<value*>(static_cast<const value*>(this)->find(key));
}

value& value::set(std::string_view key, value v) {
  if (is_null()) v_ = object{};
  if (!is_object()) throw std::logic_error("json::value::set on a value that is not an object");
  if (value* existing = find(key)) {
    *existing = std::move(v);
    return *existing;
  }
  auto& members = std::get<object>(v_);
  members.emplace_back(std::string(key), std::move(v));
  return members.back().second;
}

bool operator==(const value& a, const value& b) noexcept { return a.v_ == b.v_; }

}  // namespace celeriac::json
