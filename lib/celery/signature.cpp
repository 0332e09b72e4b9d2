#include "celery/signature.hpp"

#include <ostream>

#include <fmt/format.h>

#include "json/dump.hpp"

namespace celeriac::celery {

std::ostream& operator<<(std::ostream& os, const signature_error& e) { return os << e.message; }

std::ostream& operator<<(std::ostream& os, const signature& s) { return os << json::dump(to_json(s)); }

boost::system::result<signature, signature_error> decode_signature(const json::value& v) {
  auto bad = [&](std::string_view what) {
    return signature_error{fmt::format("invalid signature {}: {}", json::dump(v), what)};
  };
  if (!v.is_object()) return bad("not an object");
  signature s;
  bool has_task = false;
  for (const auto& [k, item] : v.as_object()) {
    if (k == "task") {
      if (!item.is_string()) return bad("'task' is not a string");
      s.task = item.as_string();
      has_task = true;
    } else if (k == "args") {
      if (!item.is_null() && !item.is_array()) return bad("'args' is not a list");
      if (item.is_array()) s.args = item.as_array();
    } else if (k == "kwargs") {
      if (!item.is_null() && !item.is_object()) return bad("'kwargs' is not an object");
      if (item.is_object()) s.kwargs = item.as_object();
    } else if (k == "options") {
      if (!item.is_null() && !item.is_object()) return bad("'options' is not an object");
      if (item.is_object()) s.options = item.as_object();
    } else if (k == "subtask_type") {
      s.subtask_type = item;
    } else if (k == "immutable") {
      if (!item.is_null() && !item.is_bool()) return bad("'immutable' is not a boolean");
      s.immutable = item.is_bool() && item.as_bool();
    } else {
      s.extra.emplace_back(k, item);
    }
  }
  if (!has_task) return bad("no 'task'");
  return s;
}

json::value to_json(const signature& s) {
  json::object o;
  o.reserve(6 + s.extra.size());
  o.emplace_back("task", s.task);
  o.emplace_back("args", s.args);
  o.emplace_back("kwargs", s.kwargs);
  o.emplace_back("options", s.options);
  o.emplace_back("subtask_type", s.subtask_type);
  o.emplace_back("immutable", s.immutable);
  for (const auto& m : s.extra) o.push_back(m);
  return o;
}

}  // namespace celeriac::celery
