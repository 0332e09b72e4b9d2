#include "csv/validate.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "csv/utf8.hpp"

namespace celeriac::csv {

namespace {

// How much of a bad value a reason quotes.
constexpr std::size_t quoted_value_bytes = 60;

// `text` for a message: cut at a character boundary after
// quoted_value_bytes, so a huge field cannot make a huge reason.
std::string excerpt(std::string_view text) {
  if (text.size() <= quoted_value_bytes) return std::string(text);
  std::size_t cut = quoted_value_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

std::string_view trim_spaces(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

field_error fail(std::size_t column, std::string reason) { return field_error{column, std::move(reason)}; }

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_lower(std::string_view s, std::string_view lowercase) noexcept {
  if (s.size() != lowercase.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (lower(s[i]) != lowercase[i]) return false;
  }
  return true;
}

// 1 for true, 0 for false, -1 for neither.
int parse_bool(std::string_view s) noexcept {
  switch (s.size()) {
    case 1:
      switch (lower(s[0])) {
        case 't':
        case 'y':
        case '1': return 1;
        case 'f':
        case 'n':
        case '0': return 0;
        default: return -1;
      }
    case 2:
      if (equals_lower(s, "no")) return 0;
      if (equals_lower(s, "on")) return 1;
      return -1;
    case 3:
      if (equals_lower(s, "yes")) return 1;
      if (equals_lower(s, "off")) return 0;
      return -1;
    case 4: return equals_lower(s, "true") ? 1 : -1;
    case 5: return equals_lower(s, "false") ? 0 : -1;
    default: return -1;
  }
}

std::string describe_range(const column_spec& col) {
  if (col.min && col.max) return fmt::format("outside [{}, {}]", *col.min, *col.max);
  if (col.min) return fmt::format("below the minimum {}", *col.min);
  return fmt::format("above the maximum {}", *col.max);
}

// Converts one non-NULL field. Inline: this is the per-field hot path.
// may_have_nul: the record holds a NUL byte somewhere (checked once per
// record rather than once per text field).
inline boost::system::result<void, field_error> convert(const field& f, const column_spec& col, std::size_t i,
                                                        bool may_have_nul, value& out) {
  switch (col.kind) {
    case column_kind::text: {
      const std::string_view t = f.text;
      if (const void* nul = may_have_nul ? std::memchr(t.data(), '\0', t.size()) : nullptr; nul != nullptr) {
        const auto at = static_cast<std::size_t>(static_cast<const char*>(nul) - t.data());
        return fail(i, fmt::format("{}: NUL byte at character {}, which PostgreSQL text cannot store; remove it",
                                   col.name, count_code_points(t.substr(0, at)) + 1));
      }
      if (col.max_length != 0 && t.size() > col.max_length) {
        const std::size_t chars = count_code_points(t);
        if (chars > col.max_length) {
          return fail(i, fmt::format("{}: {} characters, the limit is {}", col.name, chars, col.max_length));
        }
      }
      out = t;
      return {};
    }
    case column_kind::integer: {
      std::string_view t = trim_spaces(f.text);
      if (!t.empty() && t.front() == '+') t.remove_prefix(1);
      std::int64_t v = 0;
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec == std::errc::result_out_of_range && end == t.data() + t.size()) {
        return fail(i, fmt::format("{}: {} is outside the bigint range [-9223372036854775808, 9223372036854775807]",
                                   col.name, excerpt(f.text)));
      }
      if (ec != std::errc{} || end != t.data() + t.size() || t.empty()) {
        return fail(i, fmt::format("{}: '{}' is not an integer", col.name, excerpt(f.text)));
      }
      out = v;
      return {};
    }
    case column_kind::floating: {
      std::string_view t = trim_spaces(f.text);
      if (!t.empty() && t.front() == '+') t.remove_prefix(1);
      double v = 0;
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec == std::errc::result_out_of_range && end == t.data() + t.size()) {
        return fail(i, fmt::format("{}: {} is outside the double precision range", col.name, excerpt(f.text)));
      }
      if (ec != std::errc{} || end != t.data() + t.size() || t.empty()) {
        return fail(i, fmt::format("{}: '{}' is not a number", col.name, excerpt(f.text)));
      }
      if (!std::isfinite(v)) {
        return fail(i, fmt::format("{}: '{}' is not a finite number", col.name, excerpt(f.text)));
      }
      if ((col.min && v < *col.min) || (col.max && v > *col.max)) {
        return fail(i, fmt::format("{}: {} is {}", col.name, trim_spaces(f.text), describe_range(col)));
      }
      out = v;
      return {};
    }
    case column_kind::boolean: {
      const int b = parse_bool(trim_spaces(f.text));
      if (b < 0) {
        return fail(i, fmt::format("{}: '{}' is not a boolean (use true/false, t/f, yes/no, y/n, on/off or 1/0)",
                                   col.name, excerpt(f.text)));
      }
      out = b == 1;
      return {};
    }
    case column_kind::timestamptz: {
      const auto ts = parse_timestamptz(trim_spaces(f.text));
      if (!ts) {
        switch (ts.error()) {
          case timestamp_error::no_offset:
            return fail(i, fmt::format("{}: '{}' has no UTC offset; add Z or +HH:MM", col.name, excerpt(f.text)));
          case timestamp_error::out_of_range:
            return fail(i, fmt::format("{}: '{}' has a date, time or offset out of range", col.name, excerpt(f.text)));
          case timestamp_error::syntax: break;
        }
        return fail(i, fmt::format("{}: '{}' is not an ISO-8601 timestamp with an offset", col.name, excerpt(f.text)));
      }
      out = *ts;
      return {};
    }
    case column_kind::enumeration: {
      for (const std::string& allowed : col.allowed) {
        if (allowed == f.text) {
          out = f.text;
          return {};
        }
      }
      return fail(i, fmt::format("{}: '{}' is not one of {}", col.name, excerpt(f.text), fmt::join(col.allowed, ", ")));
    }
  }
  return fail(i, fmt::format("{}: unknown column type", col.name));
}

std::string join_names(const import_profile& profile) {
  std::string out;
  for (const column_spec& c : profile.columns) {
    if (!out.empty()) out += ',';
    out += c.name;
  }
  return out;
}

std::string join_fields(std::span<const field> fields) {
  std::string out;
  for (const field& f : fields) {
    if (!out.empty()) out += ',';
    out += excerpt(f.text);
  }
  return out;
}

std::string profile_label(const import_profile& profile) {
  return profile.name.empty() ? std::string("the column spec") : fmt::format("profile '{}'", profile.name);
}

}  // namespace

void throw_exception_from_error(const field_error& e, const boost::source_location&) {
  throw std::invalid_argument(e.reason);
}

boost::system::result<void, field_error> validate(const record& rec, const import_profile& profile,
                                                  std::vector<value>& out) {
  if (!rec.ok()) return fail(field_error::record_column, std::string(rec.message));
  const std::size_t n = profile.columns.size();
  if (rec.fields.size() != n) {
    return fail(field_error::record_column, fmt::format("{} fields, expected {} (the columns of {})", rec.fields.size(),
                                                        n, profile_label(profile)));
  }
  out.resize(n);
  const bool may_have_nul = std::memchr(rec.raw.data(), '\0', rec.raw.size()) != nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    const field& f = rec.fields[i];
    const column_spec& col = profile.columns[i];
    if (f.is_null()) {
      if (col.not_null) return fail(i, fmt::format("{}: required but empty", col.name));
      out[i] = std::monostate{};
      continue;
    }
    if (auto r = convert(f, col, i, may_have_nul, out[i]); !r) return r;
  }
  return {};
}

result<void> check_header(const record& header, const import_profile& profile) {
  if (!header.ok()) {
    return message_error{fmt::format("cannot read the CSV header (line {}): {}", header.line, header.message)};
  }
  const std::size_t n = profile.columns.size();
  std::size_t differs = 0;
  while (differs < n && differs < header.fields.size() &&
         header.fields[differs].text == profile.columns[differs].name) {
    ++differs;
  }
  if (differs == n && header.fields.size() == n) return {};
  std::string detail;
  if (differs < n && differs < header.fields.size()) {
    detail = fmt::format("column {} is '{}' where '{}' was expected", differs + 1, excerpt(header.fields[differs].text),
                         profile.columns[differs].name);
  } else {
    detail = fmt::format("it has {} columns, {} were expected", header.fields.size(), n);
  }
  return message_error{fmt::format("the CSV header does not match {}: expected \"{}\", found \"{}\"; {}",
                                   profile_label(profile), join_names(profile), join_fields(header.fields), detail)};
}

}  // namespace celeriac::csv
