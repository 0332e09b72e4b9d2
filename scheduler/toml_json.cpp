#include "scheduler/toml_json.hpp"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>

#include <boost/throw_exception.hpp>
#include <fmt/format.h>

namespace celeriac::scheduler {

namespace {

using result_t = boost::system::result<std::string, json_conversion_error>;

// json_conversion_error is an aggregate holding a string, so a bare string
// would be ambiguous between the value and the error: say which.
result_t json_text(std::string s) { return result_t(boost::system::in_place_value, std::move(s)); }

std::size_t line_of(const toml::node& n) { return static_cast<std::size_t>(n.source().begin.line); }

void append_escape(std::string& out, std::uint32_t unit) { out += fmt::format("\\u{:04x}", unit); }

// Decodes one UTF-8 sequence starting at s[i] and advances i past it.
// toml++ has already validated the text; a malformed byte still becomes
// U+FFFD rather than being trusted.
std::uint32_t decode_utf8(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t extra = 0;
  std::uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    extra = 1;
    cp = b0 & 0x1FU;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    extra = 2;
    cp = b0 & 0x0FU;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    extra = 3;
    cp = b0 & 0x07U;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (s.size() - i <= extra) {
    ++i;
    return 0xFFFD;
  }
  for (std::size_t k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0U) != 0x80U) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3FU);
  }
  i += extra + 1;
  return cp;
}

result_t convert(const toml::node& n, const std::string& path);

result_t convert_array(const toml::array& a, const std::string& path) {
  std::string out = "[";
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto item = convert(a[i], fmt::format("{}[{}]", path, i));
    if (!item) return item;
    if (i > 0) out += ", ";
    out += *item;
  }
  out += ']';
  return json_text(std::move(out));
}

result_t convert_table(const toml::table& t, const std::string& path) {
  std::string out = "{";
  bool first = true;
  for (auto&& [key, value] : t) {
    auto item = convert(value, fmt::format("{}.{}", path, key.str()));
    if (!item) return item;
    if (!first) out += ", ";
    first = false;
    append_json_string(out, key.str());
    out += ": ";
    out += *item;
  }
  out += '}';
  return json_text(std::move(out));
}

result_t convert(const toml::node& n, const std::string& path) {
  switch (n.type()) {
    case toml::node_type::string: {
      std::string out;
      append_json_string(out, n.as_string()->get());
      return json_text(std::move(out));
    }
    case toml::node_type::integer:
      return json_text(fmt::format("{}", n.as_integer()->get()));
    case toml::node_type::floating_point: {
      const double d = n.as_floating_point()->get();
      if (!std::isfinite(d)) {
        return json_conversion_error{
            fmt::format("{}: {} has no JSON form; use a finite number or a string", path, d), line_of(n)};
      }
      // fmt's shortest round-trip form matches Python's repr except that it
      // drops ".0" from integral values.
      std::string out = fmt::format("{}", d);
      if (out.find_first_of(".e") == std::string::npos) out += ".0";
      return json_text(std::move(out));
    }
    case toml::node_type::boolean:
      return json_text(n.as_boolean()->get() ? "true" : "false");
    case toml::node_type::array:
      return convert_array(*n.as_array(), path);
    case toml::node_type::table:
      return convert_table(*n.as_table(), path);
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return json_conversion_error{
          fmt::format("{}: TOML dates and times have no JSON form; quote the value as a string", path), line_of(n)};
    case toml::node_type::none:
      break;
  }
  return json_conversion_error{fmt::format("{}: value has no JSON form", path), line_of(n)};
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::uint32_t cp = decode_utf8(s, i);
      if (cp >= 0x10000) {
        const std::uint32_t v = cp - 0x10000;
        append_escape(out, 0xD800 + (v >> 10));
        append_escape(out, 0xDC00 + (v & 0x3FF));
      } else {
        append_escape(out, cp);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        // Python escapes everything outside ' '..'~', DEL included.
        if (c < 0x20 || c == 0x7F)
          append_escape(out, c);
        else
          out += static_cast<char>(c);
    }
  }
  out += '"';
}

boost::system::result<std::string, json_conversion_error> toml_to_json(const toml::node& value,
                                                                       std::string_view path) {
  return convert(value, std::string(path));
}

void throw_exception_from_error(const json_conversion_error& e, const boost::source_location& loc) {
  boost::throw_exception(std::invalid_argument(e.message), loc);
}

}  // namespace celeriac::scheduler
