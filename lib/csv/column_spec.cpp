#include "csv/column_spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace celeriac::csv {

namespace {

constexpr std::string_view spec_example =
    "e.g. \"name:text(200)!,qty:integer,price:float(0..),at:timestamptz,kind:enum(a|b),ok:boolean\"";

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }
bool is_name_start(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) noexcept { return is_name_start(c) || (c >= '0' && c <= '9'); }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

message_error fail(std::string message) { return message_error{"column spec: " + std::move(message)}; }

// An optional bound of float(min..max): empty means none.
result<std::optional<double>> parse_bound(std::string_view text, const std::string& column) {
  text = trim(text);
  if (text.empty()) return std::optional<double>{};
  std::string_view digits = text;
  if (digits.front() == '+') digits.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc{} || end != digits.data() + digits.size() || !std::isfinite(v)) {
    return fail(fmt::format("bound '{}' of column '{}' is not a finite number", text, column));
  }
  return std::optional<double>{v};
}

// Fills `col` from its type word and the text between its parentheses
// (args, absent when there were none).
result<void> apply_type(column_spec& col, std::string_view type_word, std::optional<std::string_view> args) {
  const std::string type = lower(type_word);
  auto no_args = [&]() -> result<void> {
    if (args) return fail(fmt::format("type '{}' of column '{}' takes no arguments", type, col.name));
    return {};
  };
  if (type == "text") {
    col.kind = column_kind::text;
    if (args) {
      const std::string_view n = trim(*args);
      std::size_t v = 0;
      const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
      if (ec != std::errc{} || end != n.data() + n.size() || v == 0) {
        return fail(
            fmt::format("text({}) of column '{}': the limit must be a whole number of characters >= 1", n, col.name));
      }
      col.max_length = v;
    }
    return {};
  }
  if (type == "integer" || type == "bigint") {
    col.kind = column_kind::integer;
    return no_args();
  }
  if (type == "float" || type == "double") {
    col.kind = column_kind::floating;
    if (args) {
      const std::size_t dots = args->find("..");
      if (dots == std::string_view::npos) {
        return fail(fmt::format("float({}) of column '{}': write the bounds as min..max, either one optional", *args,
                                col.name));
      }
      auto lo = parse_bound(args->substr(0, dots), col.name);
      if (!lo) return lo.error();
      auto hi = parse_bound(args->substr(dots + 2), col.name);
      if (!hi) return hi.error();
      if (*lo && *hi && **lo > **hi) {
        return fail(fmt::format("float({}) of column '{}': the minimum is above the maximum", *args, col.name));
      }
      col.min = *lo;
      col.max = *hi;
    }
    return {};
  }
  if (type == "boolean" || type == "bool") {
    col.kind = column_kind::boolean;
    return no_args();
  }
  if (type == "timestamptz") {
    col.kind = column_kind::timestamptz;
    return no_args();
  }
  if (type == "enum") {
    col.kind = column_kind::enumeration;
    if (!args) return fail(fmt::format("enum of column '{}' needs its values, e.g. enum(a|b|c)", col.name));
    std::string_view rest = *args;
    for (;;) {
      const std::size_t bar = rest.find('|');
      const std::string_view value = trim(rest.substr(0, bar));
      if (value.empty()) {
        return fail(fmt::format("enum({}) of column '{}' has an empty value", *args, col.name));
      }
      if (std::find(col.allowed.begin(), col.allowed.end(), value) != col.allowed.end()) {
        return fail(fmt::format("enum({}) of column '{}' lists '{}' twice", *args, col.name, value));
      }
      col.allowed.emplace_back(value);
      if (bar == std::string_view::npos) break;
      rest.remove_prefix(bar + 1);
    }
    return {};
  }
  return fail(fmt::format("unknown type '{}' for column '{}': use text, integer, float, boolean, timestamptz or enum",
                          type_word, col.name));
}

}  // namespace

std::string_view pg_type_name(column_kind kind) noexcept {
  switch (kind) {
    case column_kind::text: return "text";
    case column_kind::integer: return "bigint";
    case column_kind::floating: return "double precision";
    case column_kind::boolean: return "boolean";
    case column_kind::timestamptz: return "timestamptz";
    case column_kind::enumeration: return "text";
  }
  return "text";
}

result<std::vector<column_spec>> parse_column_spec(std::string_view spec) {
  std::vector<column_spec> out;
  std::size_t i = 0;
  auto skip_spaces = [&] {
    while (i < spec.size() && is_space(spec[i])) ++i;
  };
  skip_spaces();
  if (i == spec.size())
    return fail(fmt::format("it is empty; give name:type pairs separated by commas, {}", spec_example));
  for (;;) {
    skip_spaces();
    const std::size_t name_begin = i;
    if (i < spec.size() && is_name_start(spec[i])) {
      while (i < spec.size() && is_name_char(spec[i])) ++i;
    }
    if (i == name_begin) {
      return fail(fmt::format("expected a column name (letters, digits, '_') at character {} of '{}', {}", i + 1, spec,
                              spec_example));
    }
    column_spec col;
    col.name = std::string(spec.substr(name_begin, i - name_begin));
    for (const column_spec& seen : out) {
      if (seen.name == col.name) return fail(fmt::format("column '{}' is declared twice", col.name));
    }
    skip_spaces();
    if (i == spec.size() || spec[i] != ':') {
      return fail(fmt::format("expected ':' and a type after column '{}', {}", col.name, spec_example));
    }
    ++i;
    skip_spaces();
    const std::size_t type_begin = i;
    while (i < spec.size() && ((spec[i] >= 'a' && spec[i] <= 'z') || (spec[i] >= 'A' && spec[i] <= 'Z'))) ++i;
    const std::string_view type_word = spec.substr(type_begin, i - type_begin);
    if (type_word.empty()) return fail(fmt::format("column '{}' has no type after ':', {}", col.name, spec_example));
    skip_spaces();
    std::optional<std::string_view> args;
    if (i < spec.size() && spec[i] == '(') {
      const std::size_t close = spec.find(')', i);
      if (close == std::string_view::npos) {
        return fail(fmt::format("the '(' after the type of column '{}' is never closed", col.name));
      }
      args = spec.substr(i + 1, close - i - 1);
      i = close + 1;
    }
    if (auto applied = apply_type(col, type_word, args); !applied) return applied.error();
    skip_spaces();
    if (i < spec.size() && spec[i] == '!') {
      col.not_null = true;
      ++i;
      skip_spaces();
    }
    out.push_back(std::move(col));
    if (i == spec.size()) break;
    if (spec[i] != ',') {
      return fail(fmt::format("unexpected '{}' at character {} after column '{}'; separate columns with ','", spec[i],
                              i + 1, out.back().name));
    }
    ++i;
  }
  return out;
}

}  // namespace celeriac::csv
