#include "celery/py_repr.hpp"

#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "json/dump.hpp"

namespace celeriac::celery {
namespace {

// ---------------------------------------------------------------------------
// Code points
// ---------------------------------------------------------------------------

// Decodes the code point at s[i], advancing i. Invalid UTF-8 yields U+FFFD
// for one byte, which is what a Python str could hold in its place.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = b0 >= 0xF0 && b0 <= 0xF4 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 && b0 < 0xE0 ? 2 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = b0 & (0xFF >> (len + 1));
  for (int k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Python's str.isprintable() for the categories it refuses (Cc, Cf, Cs,
// Co, Zl, Zp, Zs other than space, noncharacters). Unassigned code points
// are not tabulated: they count as printable here.
bool is_printable(char32_t c) {
  struct range {
    char32_t lo, hi;
  };
  static constexpr range not_printable[] = {
      {0x0000, 0x001F},   {0x007F, 0x00A0},   {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},
      {0x06DD, 0x06DD},   {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x1680, 0x1680},
      {0x180E, 0x180E},   {0x2000, 0x200F},   {0x2028, 0x202F},   {0x205F, 0x2064},   {0x2066, 0x206F},
      {0x3000, 0x3000},   {0xD800, 0xF8FF},   {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},
      {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
      {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0x10FFFF},
  };
  if ((c & 0xFFFE) == 0xFFFE) return false;
  for (const auto& r : not_printable)
    if (c >= r.lo && c <= r.hi) return false;
  return true;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// The first n code points of s.
std::string_view first_code_points(std::string_view s, std::size_t n) {
  std::size_t i = 0;
  for (; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && n-- == 0) break;
  return s.substr(0, i);
}

// ---------------------------------------------------------------------------
// repr()
// ---------------------------------------------------------------------------

void float_repr_to(std::string& out, double d) {
  if (std::isnan(d))
    out += "nan";
  else if (std::isinf(d))
    out += d < 0 ? "-inf" : "inf";
  else
    json::dump_double_to(out, d);
}

void string_repr_to(std::string& out, std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  out += quote;
  for (std::size_t i = 0; i < s.size();) {
    char32_t c = next_code_point(s, i);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c < 0x7F || is_printable(c)) {
      append_utf8(out, c);
    } else if (c <= 0xFF) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c <= 0xFFFF) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += fmt::format("\\U{:08x}", static_cast<unsigned>(c));
    }
  }
  out += quote;
}

void repr_to(std::string& out, const json::value& v) {
  switch (v.type()) {
    case json::kind::null: out += "None"; break;
    case json::kind::boolean: out += v.as_bool() ? "True" : "False"; break;
    case json::kind::integer: out += std::to_string(v.as_integer()); break;
    case json::kind::number: float_repr_to(out, v.as_double()); break;
    case json::kind::string: string_repr_to(out, v.as_string()); break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.as_array()) {
        if (!first) out += ", ";
        first = false;
        repr_to(out, item);
      }
      out += ']';
      break;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.as_object()) {
        if (!first) out += ", ";
        first = false;
        string_repr_to(out, k);
        out += ": ";
        repr_to(out, item);
      }
      out += '}';
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// celery.utils.saferepr
//
// saferepr walks the object as a flat stream of tokens (literals such as
// "[", ", ", "]", dict keys, quoted strings, other scalars), subtracting the
// length of each emitted token from maxlen. When maxlen is used up it emits
// ", ..." instead of the next token and then only the closing brackets still
// pending. The quirks below (the token that hit the limit is dropped, so an
// already-consumed "]" is lost while a consumed "[" still gets its "]") are
// Celery's and are kept for byte-compatibility.
// ---------------------------------------------------------------------------

// saferepr's maxlevels: containers this deep print as [...] / {...}.
constexpr std::size_t saferepr_maxlevels = 3;

enum class token_kind {
  literal,  // brackets and separators: emitted as-is
  quoted,   // a string value or dict key: quoted and truncated
  text,     // numbers, None, True/False, "[...]": truncated
};

struct token {
  token_kind kind;
  std::string text;
};

// celery.utils.text.truncate(s, maxlen): cut to maxlen code points at the
// last space, plus "...", once s is maxlen long or longer.
std::string truncate(std::string_view s, long long maxlen) {
  if (maxlen > 0 && code_points(s) >= static_cast<std::size_t>(maxlen)) {
    std::string_view head = first_code_points(s, static_cast<std::size_t>(maxlen));
    if (auto space = head.rfind(' '); space != std::string_view::npos) head = head.substr(0, space);
    return std::string(head) + "...";
  }
  return std::string(s);
}

std::string scalar_text(const json::value& v) {
  std::string out;
  switch (v.type()) {
    case json::kind::null: return "None";
    case json::kind::boolean: return v.as_bool() ? "True" : "False";
    case json::kind::integer: return std::to_string(v.as_integer());
    case json::kind::number: float_repr_to(out, v.as_double()); return out;
    default: return out;
  }
}

class token_stream {
public:
  token_stream(const json::value& root, sequence_style outer) : root_(&root), outer_(outer) {}

  // The next token, or false at the end of the stream.
  bool next(token& t) {
    if (root_) {
      const json::value* v = root_;
      root_ = nullptr;
      emit_value(*v, t, true);
      return true;
    }
    if (frames_.empty()) return false;
    frame& f = frames_.back();
    std::size_t n = f.v->is_array() ? f.v->as_array().size() : f.v->as_object().size();
    if (f.v->is_array()) {
      // Positions: elem0, sep, elem1, ..., elemN-1, then the closer.
      if (f.pos >= 2 * n - (n > 0 ? 1 : 0)) return close(t);
      std::size_t pos = f.pos++;
      if (pos % 2 == 1) return literal(t, ", ");
      emit_value(f.v->as_array()[pos / 2], t, false);
      return true;
    }
    // Objects: key, ": ", value, ", " per member (no trailing separator).
    if (f.pos >= 4 * n - (n > 0 ? 1 : 0)) return close(t);
    std::size_t pos = f.pos++;
    const auto& [key, value] = f.v->as_object()[pos / 4];
    switch (pos % 4) {
      case 0: t = {token_kind::quoted, key}; return true;
      case 1: return literal(t, ": ");
      case 2: emit_value(value, t, false); return true;
      default: return literal(t, ", ");
    }
  }

  // The closers still owed when output is cut short, innermost first.
  std::string pending_closers() const {
    std::string out;
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) out += it->closer;
    return out;
  }

private:
  struct frame {
    const json::value* v;
    std::size_t pos;
    std::string_view closer;
  };

  static bool literal(token& t, std::string_view text) {
    t = {token_kind::literal, std::string(text)};
    return true;
  }

  bool close(token& t) {
    t = {token_kind::literal, std::string(frames_.back().closer)};
    frames_.pop_back();
    return true;
  }

  void emit_value(const json::value& v, token& t, bool top) {
    if (v.is_string()) {
      t = {token_kind::quoted, v.as_string()};
      return;
    }
    if (!v.is_array() && !v.is_object()) {
      t = {token_kind::text, scalar_text(v)};
      return;
    }
    bool tuple = top && v.is_array() && outer_ == sequence_style::tuple;
    std::string_view opener = v.is_object() ? "{" : tuple ? "(" : "[";
    std::string_view closer = v.is_object()                           ? "}"
                              : !tuple                                ? "]"
                              : v.as_array().size() == 1              ? ",)"
                                                                      : ")";
    if (frames_.size() >= saferepr_maxlevels) {
      t = {token_kind::text, std::string(opener) + "..." + std::string(closer)};
      return;
    }
    frames_.push_back(frame{&v, 0, closer});
    t = {token_kind::literal, std::string(opener)};
  }

  const json::value* root_;
  sequence_style outer_;
  std::vector<frame> frames_;
};

}  // namespace

std::string py_repr(const json::value& v) {
  std::string out;
  repr_to(out, v);
  return out;
}

std::string saferepr(const json::value& v, std::size_t maxlen, sequence_style outer) {
  std::string out;
  long long remaining = static_cast<long long>(maxlen);
  token_stream stream(v, outer);
  token t;
  while (stream.next(t)) {
    if (remaining <= 0) {
      out += ", ...";
      out += stream.pending_closers();
      break;
    }
    std::string piece;
    switch (t.kind) {
      case token_kind::literal: piece = std::move(t.text); break;
      case token_kind::text: piece = truncate(t.text, remaining); break;
      case token_kind::quoted: {
        // _format_chars: single quotes, only ' escaped.
        std::string cut = truncate(t.text, remaining);
        piece = "'";
        for (char c : cut) {
          if (c == '\'') piece += '\\';
          piece += c;
        }
        piece += "'";
        break;
      }
    }
    remaining -= static_cast<long long>(code_points(piece));
    out += piece;
  }
  return out;
}

}  // namespace celeriac::celery
