#include "worker/control_output.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "celery/py_repr.hpp"
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

// Python's json.dumps(v, sort_keys=True, indent=4).
void dump_sorted(std::string& out, const json::value& v, std::size_t depth) {
  const auto newline = [&](std::size_t d) {
    out += '\n';
    out.append(4 * d, ' ');
  };
  if (v.is_array() && !v.as_array().empty()) {
    out += '[';
    bool first = true;
    for (const auto& item : v.as_array()) {
      if (!first) out += ',';
      first = false;
      newline(depth + 1);
      dump_sorted(out, item, depth + 1);
    }
    newline(depth);
    out += ']';
  } else if (v.is_object() && !v.as_object().empty()) {
    std::vector<const json::member*> members;
    for (const auto& m : v.as_object()) members.push_back(&m);
    // Byte order of UTF-8 is code point order: Python's sort of str keys.
    std::ranges::stable_sort(members, {}, [](const json::member* m) { return std::string_view(m->first); });
    out += '{';
    bool first = true;
    for (const json::member* m : members) {
      if (!first) out += ',';
      first = false;
      newline(depth + 1);
      json::dump_string_to(out, m->first);
      out += ": ";
      dump_sorted(out, m->second, depth + 1);
    }
    newline(depth);
    out += '}';
  } else {
    json::dump_to(out, v);
  }
}

struct pretty_value {
  bool ok = true;
  std::string text;
};

// celery/bin/base.py CLIContext.pretty.
pretty_value pretty(const json::value& v) {
  if (v.is_array()) {
    if (v.as_array().empty()) return {true, "- empty -"};
    std::string lines;
    for (const auto& item : v.as_array()) {
      if (!lines.empty()) lines += '\n';
      lines += "* " + (item.is_string() ? item.as_string() : celery::py_repr(item));  // f"{item}"
    }
    return {true, lines};
  }
  if (v.is_object()) {
    if (const json::value* ok = v.find("ok")) return {true, indent(pretty(*ok).text, 4)};
    if (const json::value* error = v.find("error")) return {false, indent(pretty(*error).text, 4)};
    std::string text;
    dump_sorted(text, v, 0);
    text += '\n';  // pygments' highlight() ends its output with a newline
    return {true, text};
  }
  if (v.is_string()) return {true, v.as_string()};
  return {true, celery::py_repr(v)};  // pformat
}

// celery.app.control.flatten_reply: {node: reply}, first place, last reply.
json::object by_node(std::span<const celery::control_reply> replies) {
  json::object nodes;
  for (const auto& r : replies) {
    auto same = std::ranges::find(nodes, r.node, &json::member::first);
    if (same != nodes.end())
      same->second = r.value;
    else
      nodes.emplace_back(r.node, r.value);
  }
  return nodes;
}

}  // namespace

std::string format_control_reply(const celery::control_reply& reply) {
  const pretty_value p = pretty(reply.value);
  return fmt::format("->  {}: {}\n{}", reply.node, p.ok ? "OK" : "ERROR", indent(p.text, 4));
}

std::string format_replies(remote_kind kind, std::span<const celery::control_reply> replies) {
  std::string out;
  for (const auto& r : replies) out += format_control_reply(r) + "\n";
  if (kind == remote_kind::inspect) {
    const std::size_t nodes = by_node(replies).size();
    out += fmt::format("\n{} {} online.\n", nodes, nodes == 1 ? "node" : "nodes");
  }
  return out;
}

std::string format_replies_json(remote_kind kind, std::span<const celery::control_reply> replies) {
  json::value all;
  if (kind == remote_kind::inspect) {
    all = by_node(replies);
  } else {
    json::array list;
    for (const auto& r : replies) list.emplace_back(json::object{{r.node, r.value}});
    all = std::move(list);
  }
  return json::dump(all) + "\n";
}

}  // namespace celeriac::cli
