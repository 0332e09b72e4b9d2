#include "util/log_line.hpp"

#include <fmt/format.h>

namespace celeriac::log {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = 0;
  unsigned min = 0;
  unsigned cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) n = 2, min = 0x80, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, min = 0x800, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, min = 0x10000, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
  if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '-';
}

}  // namespace

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (u < 0x20 || u == 0x7F) out += fmt::format("\\u{:04x}", u);
          else out += c;
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not UTF-8
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  out += '"';
  return out;
}

std::optional<task_ref> task_in_message(std::string_view message) {
  for (std::size_t open = message.find('['); open != std::string_view::npos; open = message.find('[', open + 1)) {
    std::size_t start = open;
    while (start > 0 && name_char(message[start - 1])) --start;
    if (start == open || (start > 0 && message[start - 1] != ' ')) continue;
    const char first = message[start];
    if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_')) continue;
    const std::size_t close = message.find(']', open + 1);
    if (close == std::string_view::npos || close == open + 1) return std::nullopt;
    const std::string_view id = message.substr(open + 1, close - open - 1);
    if (id.find_first_of(" \t\n[") != std::string_view::npos) continue;
    return task_ref{message.substr(start, open - start), id};
  }
  return std::nullopt;
}

std::string json_line(const line_fields& f) {
  std::string out = fmt::format(R"({{"time": {}, "level": "{}", "process": {}, "pid": {})",
                                json_quote(util::iso8601_utc(f.time)), level_name(f.lvl), json_quote(f.process),
                                f.pid);
  if (f.task) {
    out += fmt::format(R"(, "task_name": {}, "task_id": {})", json_quote(f.task->name), json_quote(f.task->id));
  }
  out += fmt::format(R"(, "message": {}}})", json_quote(f.message));
  out += '\n';
  return out;
}

}  // namespace celeriac::log
