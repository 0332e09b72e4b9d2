#pragma once
// A JSON document model for task arguments, results and message parts.
//
// Objects keep insertion order because Celery's wire format does (kombu
// serialises dicts in insertion order) and byte-for-byte compatibility with
// Celery's output is a goal. Lookups are linear: the objects we handle are
// small (headers, kwargs), where a vector beats a map.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace celeriac::json {

class value;
using array = std::vector<value>;
using member = std::pair<std::string, value>;
using object = std::vector<member>;

enum class kind { null, boolean, integer, number, string, array, object };

class value {
public:
  value() noexcept : v_(nullptr) {}
  value(std::nullptr_t) noexcept : v_(nullptr) {}
  value(bool b) noexcept : v_(b) {}
  value(int i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  value(long i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  value(long long i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  value(unsigned i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  value(double d) noexcept : v_(d) {}
  value(const char* s) : v_(std::string(s)) {}
  value(std::string s) noexcept : v_(std::move(s)) {}
  value(std::string_view s) : v_(std::string(s)) {}
  value(array a) noexcept : v_(std::move(a)) {}
  value(object o) noexcept : v_(std::move(o)) {}

  kind type() const noexcept { return static_cast<kind>(v_.index()); }
  bool is_null() const noexcept { return type() == kind::null; }
  bool is_bool() const noexcept { return type() == kind::boolean; }
  bool is_integer() const noexcept { return type() == kind::integer; }
  bool is_double() const noexcept { return type() == kind::number; }
  // True for integers and doubles alike.
  bool is_number() const noexcept { return is_integer() || is_double(); }
  bool is_string() const noexcept { return type() == kind::string; }
  bool is_array() const noexcept { return type() == kind::array; }
  bool is_object() const noexcept { return type() == kind::object; }

  // Accessors throw std::bad_variant_access on a kind mismatch; callers
  // that handle untrusted input check the kind first.
  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_integer() const { return std::get<std::int64_t>(v_); }
  // Integers widen to double, as Python's float() would.
  double as_double() const {
    return is_integer() ? static_cast<double>(as_integer()) : std::get<double>(v_);
  }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  std::string& as_string() { return std::get<std::string>(v_); }
  const array& as_array() const { return std::get<array>(v_); }
  array& as_array() { return std::get<array>(v_); }
  const object& as_object() const { return std::get<object>(v_); }
  object& as_object() { return std::get<object>(v_); }

  // Object member lookup: nullptr when this is not an object or has no
  // such key.
  const value* find(std::string_view key) const noexcept;
  value* find(std::string_view key) noexcept;

  // Sets (or replaces, keeping its position) an object member. Turns a
  // null into an empty object first; throws on any other kind.
  value& set(std::string_view key, value v);

  friend bool operator==(const value& a, const value& b) noexcept;

private:
  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, array, object> v_;
};

// Writes the JSON text (Python style): for logs and test diagnostics.
std::ostream& operator<<(std::ostream& os, const value& v);

}  // namespace celeriac::json
