#include "worker/control_output.hpp"

#include <fmt/format.h>

#include "json/dump.hpp"

namespace celeriac::cli {
namespace {

// celery.utils.text.indent: every line prefixed with `n` spaces.
std::string indent(std::string_view text, std::size_t n) {
  std::string out;
  const std::string pad(n, ' ');
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find('\n', start);
    out += pad;
    out += text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (end == std::string_view::npos) break;
    out += '\n';
    start = end + 1;
  }
  return out;
}

struct pretty_value {
  bool ok = true;
  std::string text;
};

// celery/bin/base.py CLI.pretty.
pretty_value pretty(const json::value& v) {
  if (v.is_array()) {
    if (v.as_array().empty()) return {true, "- empty -"};
    std::string lines;
    for (const auto& item : v.as_array()) {
      if (!lines.empty()) lines += '\n';
      lines += "* " + (item.is_string() ? item.as_string() : json::dump(item));
    }
    return {true, lines};
  }
  if (v.is_object()) {
    if (const json::value* ok = v.find("ok")) return {true, indent(pretty(*ok).text, 4)};
    if (const json::value* error = v.find("error")) return {false, indent(pretty(*error).text, 4)};
    return {true, json::dump(v)};
  }
  if (v.is_string()) return {true, v.as_string()};
  return {true, json::dump(v)};
}

}  // namespace

std::string format_control_reply(const celery::control_reply& reply) {
  const pretty_value p = pretty(reply.value);
  return fmt::format("->  {}: {}\n{}", reply.node, p.ok ? "OK" : "ERROR", indent(p.text, 4));
}

}  // namespace celeriac::cli
