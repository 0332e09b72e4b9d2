#include "json/dump.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>

namespace celeriac::json {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_u_escape(std::string& out, std::uint32_t unit) {
  char buf[6] = {'\\', 'u', hex_digits[(unit >> 12) & 0xf], hex_digits[(unit >> 8) & 0xf],
                 hex_digits[(unit >> 4) & 0xf], hex_digits[unit & 0xf]};
  out.append(buf, 6);
}

// Decodes one UTF-8 sequence at s[i]; returns the code point and advances
// i, or returns 0xFFFD and advances one byte on a malformed sequence.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  int len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
  if (len == 0 || b0 > 0xF4 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  std::uint32_t cp = b0 & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

void dump_value(std::string& out, const value& v, style s) {
  switch (v.type()) {
    case kind::null: out += "null"; return;
    case kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case kind::integer: dump_integer_to(out, v.as_integer()); return;
    case kind::number: dump_double_to(out, v.as_double()); return;
    case kind::string: dump_string_to(out, v.as_string()); return;
    case kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out += s == style::python ? ", " : ",";
        first = false;
        dump_value(out, e, s);
      }
      out += ']';
      return;
    }
    case kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.as_object()) {
        if (!first) out += s == style::python ? ", " : ",";
        first = false;
        dump_string_to(out, k);
        out += s == style::python ? ": " : ":";
        dump_value(out, e, s);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

void dump_string_to(std::string& out, std::string_view s) {
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run that needs no escaping in one go.
    std::size_t run = i;
    while (run < s.size()) {
      auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') break;  // DEL too, as json.dumps
      ++run;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default: append_u_escape(out, c);
      }
      ++i;
      continue;
    }
    std::uint32_t cp = next_code_point(s, i);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      append_u_escape(out, 0xD800 + (cp >> 10));
      append_u_escape(out, 0xDC00 + (cp & 0x3FF));
    } else {
      append_u_escape(out, cp);
    }
  }
  out += '"';
}

void dump_integer_to(std::string& out, std::int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void dump_double_to(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-Infinity" : "Infinity";
    return;
  }
  // Shortest round-trip digits, then laid out by Python's repr rule:
  // positional when -4 <= exponent < 16, scientific otherwise.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, r.ptr - buf);
  bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  auto e_pos = sci.find('e');
  std::string digits;
  digits += sci[0];
  if (e_pos > 1) digits.append(sci.substr(2, e_pos - 2));
  int exp = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+'), sci.data() + sci.size(), exp);

  if (negative) out += '-';
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-exp - 1), '0');
      out += digits;
    } else if (static_cast<std::size_t>(exp) + 1 >= digits.size()) {
      out += digits;
      out.append(exp + 1 - digits.size(), '0');
      out += ".0";
    } else {
      out.append(digits, 0, exp + 1);
      out += '.';
      out.append(digits, exp + 1);
    }
    return;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out.append(digits, 1);
  }
  out += 'e';
  out += exp < 0 ? '-' : '+';
  int mag = exp < 0 ? -exp : exp;
  if (mag < 10) out += '0';
  out += std::to_string(mag);
}

std::string dump(const value& v, style s) {
  std::string out;
  dump_to(out, v, s);
  return out;
}

void dump_to(std::string& out, const value& v, style s) { dump_value(out, v, s); }

std::ostream& operator<<(std::ostream& os, const value& v) { return os << dump(v); }

}  // namespace celeriac::json
