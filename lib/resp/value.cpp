#include "resp/value.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

namespace celeriac::resp {

std::string_view to_string(kind k) noexcept {
  switch (k) {
    case kind::nil: return "nil";
    case kind::simple_string: return "simple_string";
    case kind::error: return "error";
    case kind::integer: return "integer";
    case kind::bulk_string: return "bulk_string";
    case kind::array: return "array";
    case kind::map: return "map";
    case kind::set: return "set";
    case kind::push: return "push";
    case kind::double_number: return "double";
    case kind::boolean: return "boolean";
    case kind::big_number: return "big_number";
    case kind::verbatim_string: return "verbatim_string";
  }
  return "unknown";
}

// ---- Construction ---------------------------------------------------------

value value::make_simple(std::string text) {
  value v;
  v.kind_ = resp::kind::simple_string;
  v.text_ = std::move(text);
  return v;
}

value value::make_error(std::string message) {
  value v;
  v.kind_ = resp::kind::error;
  v.text_ = std::move(message);
  return v;
}

value value::make_integer(std::int64_t n) noexcept {
  value v;
  v.kind_ = resp::kind::integer;
  v.integer_ = n;
  return v;
}

value value::make_bulk(std::string bytes) {
  value v;
  v.kind_ = resp::kind::bulk_string;
  v.text_ = std::move(bytes);
  v.text_.reserve(v.text_.size() + bulk_padding);
  return v;
}

value value::make_double(double d) noexcept {
  value v;
  v.kind_ = resp::kind::double_number;
  v.double_ = d;
  return v;
}

value value::make_boolean(bool b) noexcept {
  value v;
  v.kind_ = resp::kind::boolean;
  v.integer_ = b ? 1 : 0;
  return v;
}

value value::make_big_number(std::string digits) {
  value v;
  v.kind_ = resp::kind::big_number;
  v.text_ = std::move(digits);
  return v;
}

value value::make_verbatim(std::string_view format, std::string text) {
  value v;
  v.kind_ = resp::kind::verbatim_string;
  v.format_ = {' ', ' ', ' '};
  std::copy_n(format.begin(), std::min<std::size_t>(format.size(), 3), v.format_.begin());
  v.text_ = std::move(text);
  return v;
}

value value::make_array(std::vector<value> elements) {
  value v;
  v.kind_ = resp::kind::array;
  v.elements_ = std::move(elements);
  return v;
}

value value::make_map(std::vector<value> flat) {
  assert(flat.size() % 2 == 0 && "a map holds key, value pairs");
  value v;
  v.kind_ = resp::kind::map;
  v.elements_ = std::move(flat);
  return v;
}

value value::make_set(std::vector<value> elements) {
  value v;
  v.kind_ = resp::kind::set;
  v.elements_ = std::move(elements);
  return v;
}

value value::make_push(std::vector<value> elements) {
  value v;
  v.kind_ = resp::kind::push;
  v.elements_ = std::move(elements);
  return v;
}

// ---- Type tests and accessors ---------------------------------------------

bool value::is_string() const noexcept {
  return kind_ == resp::kind::bulk_string || kind_ == resp::kind::simple_string ||
         kind_ == resp::kind::verbatim_string;
}

bool value::is_aggregate() const noexcept {
  return kind_ == resp::kind::array || kind_ == resp::kind::map || kind_ == resp::kind::set ||
         kind_ == resp::kind::push;
}

namespace {

// The error an accessor reports for a value of the wrong kind.
boost::system::error_code mismatch(kind k) noexcept {
  if (k == kind::error) return error::server_error;
  if (k == kind::nil) return error::nil_value;
  return error::wrong_type;
}

}  // namespace

boost::system::result<std::string_view> value::as_string() const noexcept {
  if (is_string()) return std::string_view{text_};
  return mismatch(kind_);
}

boost::system::result<std::int64_t> value::as_integer() const noexcept {
  if (kind_ == resp::kind::integer) return integer_;
  return mismatch(kind_);
}

boost::system::result<double> value::as_double() const noexcept {
  if (kind_ == resp::kind::double_number) return double_;
  if (kind_ == resp::kind::integer) return static_cast<double>(integer_);
  return mismatch(kind_);
}

boost::system::result<bool> value::as_boolean() const noexcept {
  if (kind_ == resp::kind::boolean) return integer_ != 0;
  // result<bool> cannot be built implicitly from an error_code (a bool is
  // constructible from one), so name the error side.
  return {boost::system::in_place_error, mismatch(kind_)};
}

boost::system::result<std::span<const value>> value::elements() const noexcept {
  if (is_aggregate()) return std::span<const value>{elements_};
  return mismatch(kind_);
}

boost::system::result<std::span<value>> value::elements() noexcept {
  if (is_aggregate()) return std::span<value>{elements_};
  return mismatch(kind_);
}

std::string_view value::error_message() const noexcept {
  return is_error() ? std::string_view{text_} : std::string_view{};
}

std::string_view value::error_kind() const noexcept {
  if (!is_error()) return {};
  std::string_view msg = text_;
  return msg.substr(0, msg.find(' '));
}

std::string_view value::verbatim_format() const noexcept {
  if (kind_ != resp::kind::verbatim_string) return {};
  return {format_.data(), format_.size()};
}

// ---- Debug rendering ------------------------------------------------------

namespace {

// Strings longer than this are shown as head...tail with their length.
constexpr std::size_t debug_string_limit = 200;

void append_quoted(std::string& out, std::string_view s) {
  auto append_range = [&out](std::string_view part) {
    for (unsigned char c : part) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c >= 0x7f) {
            fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
          } else {
            out += static_cast<char>(c);
          }
      }
    }
  };
  out += '"';
  if (s.size() <= debug_string_limit) {
    append_range(s);
  } else {
    append_range(s.substr(0, debug_string_limit / 2));
    fmt::format_to(std::back_inserter(out), "...({} bytes)...", s.size());
    append_range(s.substr(s.size() - debug_string_limit / 2));
  }
  out += '"';
}

void append_debug(std::string& out, const value& v) {
  auto append_children = [&out](std::span<const value> children, const char* open,
                                const char* close, bool pairs) {
    out += open;
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (i > 0) out += (pairs && i % 2 == 1) ? ": " : ", ";
      append_debug(out, children[i]);
    }
    out += close;
  };
  switch (v.kind()) {
    case kind::nil: out += "nil"; break;
    case kind::simple_string: out += '+'; out += v.text(); break;
    case kind::error: out += '-'; out += v.text(); break;
    case kind::integer: fmt::format_to(std::back_inserter(out), ":{}", *v.as_integer()); break;
    case kind::bulk_string: append_quoted(out, v.text()); break;
    case kind::double_number: fmt::format_to(std::back_inserter(out), ",{}", *v.as_double()); break;
    case kind::boolean: out += *v.as_boolean() ? "#t" : "#f"; break;
    case kind::big_number: out += '('; out += v.text(); break;
    case kind::verbatim_string:
      out += '=';
      out += v.verbatim_format();
      out += ':';
      append_quoted(out, v.text());
      break;
    case kind::array: append_children(*v.elements(), "[", "]", false); break;
    case kind::map: append_children(*v.elements(), "{", "}", true); break;
    case kind::set: append_children(*v.elements(), "~{", "}", false); break;
    case kind::push: append_children(*v.elements(), ">[", "]", false); break;
  }
}

}  // namespace

std::string value::to_debug_string() const {
  std::string out;
  append_debug(out, *this);
  return out;
}

}  // namespace celeriac::resp
