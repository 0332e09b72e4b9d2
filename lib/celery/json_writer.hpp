#pragma once
// Internal: writes JSON objects key by key in Python's json.dumps layout, so
// encoders can emit Celery's key order without building json::values.

#include <optional>
#include <string>
#include <string_view>

#include "json/dump.hpp"
#include "json/value.hpp"

namespace celeriac::celery::detail {

class object_writer {
public:
  explicit object_writer(std::string& out) : out_(out) {}

  // Starts the member `key`; the caller appends its value next.
  std::string& key(std::string_view key) {
    out_ += first_ ? "{" : ", ";
    first_ = false;
    json::dump_string_to(out_, key);
    out_ += ": ";
    return out_;
  }

  void member(std::string_view k, const json::value& v) { json::dump_to(key(k), v); }
  void member(std::string_view k, std::string_view s) { json::dump_string_to(key(k), s); }
  void member(std::string_view k, const char* s) { member(k, std::string_view(s)); }
  void member(std::string_view k, const std::string& s) { member(k, std::string_view(s)); }
  void member(std::string_view k, const std::optional<std::string>& s) {
    if (s)
      member(k, std::string_view(*s));
    else
      key(k) += "null";
  }
  void members(const json::object& extra) {
    for (const auto& [k, v] : extra) member(k, v);
  }

  // Closes the object ("{}" when no member was written).
  void finish() { out_ += first_ ? "{}" : "}"; }

private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace celeriac::celery::detail
