#include "json/parse.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <ostream>

namespace celeriac::json {
namespace {

// The DOM API is used here (rather than On Demand) because we build a full
// tree anyway; hot paths that only need a few fields use On Demand directly.
value convert(simdjson::dom::element e) {
  using t = simdjson::dom::element_type;
  switch (e.type()) {
    case t::NULL_VALUE: return value(nullptr);
    case t::BOOL: return value(bool(e.get_bool().value_unsafe()));
    case t::INT64: return value(static_cast<long long>(e.get_int64().value_unsafe()));
    case t::UINT64: {
      // Only reached above INT64_MAX: keep the magnitude as a double.
      return value(static_cast<double>(e.get_uint64().value_unsafe()));
    }
    case t::DOUBLE: return value(e.get_double().value_unsafe());
    case t::STRING: return value(std::string_view(e.get_string().value_unsafe()));
    case t::ARRAY: {
      array out;
      auto arr = e.get_array().value_unsafe();
      out.reserve(arr.size());
      for (auto child : arr) out.push_back(convert(child));
      return value(std::move(out));
    }
    case t::OBJECT: {
      object out;
      auto obj = e.get_object().value_unsafe();  // named: the loop must not outlive a temporary
      for (auto field : obj)
        out.emplace_back(std::string(field.key), convert(field.value));
      return value(std::move(out));
    }
  }
  return value(nullptr);
}

}  // namespace

boost::system::result<value, parse_error> parse(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root))
    return parse_error{fmt::format("invalid JSON: {}", simdjson::error_message(err))};
  try {
    return convert(root);
  } catch (const std::exception& e) {
    return parse_error{fmt::format("invalid JSON: {}", e.what())};
  }
}

std::ostream& operator<<(std::ostream& os, const parse_error& e) { return os << e.message; }

}  // namespace celeriac::json
