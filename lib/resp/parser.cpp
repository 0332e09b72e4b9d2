#include "resp/parser.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace celeriac::resp {
namespace {

// Bulk strings are reserved up front only to this size; larger ones grow
// as their bytes arrive, so a hostile "$536870912" header alone does not
// allocate half a gigabyte.
constexpr std::size_t eager_reserve_limit = std::size_t{16} * 1024 * 1024;
// Aggregates reserve at most this many elements before they arrive.
constexpr std::size_t eager_elements_limit = 1024;

// Parses all of `s` as a base-10 int64 ("-12"); false if anything is off.
bool parse_int64(std::string_view s, std::int64_t& out) noexcept {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

std::nullopt_t parser::fail(error e, boost::system::error_code& ec) noexcept {
  failed_ = e;
  ec = e;
  return std::nullopt;
}

bool parser::idle() const noexcept {
  return state_ == state::line && line_.empty() && stack_.empty();
}

void parser::reset() noexcept {
  state_ = state::line;
  line_.clear();
  bulk_ = value{};
  bulk_remaining_ = 0;
  crlf_seen_ = 0;
  stack_.clear();
  failed_.clear();
}

void parser::feed(std::string_view chunk, std::vector<value>& out,
                  boost::system::error_code& ec) {
  while (!chunk.empty()) {
    auto v = parse(chunk, ec);
    if (ec) return;
    if (v) out.push_back(std::move(*v));
  }
}

std::optional<value> parser::parse(std::string_view& input, boost::system::error_code& ec) {
  if (failed_) {
    ec = failed_;
    return std::nullopt;
  }
  while (!input.empty()) {
    switch (state_) {
      case state::line: {
        const void* nl = std::memchr(input.data(), '\n', input.size());
        if (nl == nullptr) {
          // +2: the limit excludes the CRLF, which may be half here ("\r").
          if (line_.size() + input.size() > max_line_size + 2) return fail(error::line_too_long, ec);
          line_.append(input);
          input = {};
          return std::nullopt;
        }
        const std::size_t len = static_cast<const char*>(nl) - input.data() + 1;
        if (line_.size() + len > max_line_size + 2) return fail(error::line_too_long, ec);
        std::string_view line;
        if (line_.empty()) {
          line = input.substr(0, len);  // fast path: the whole line is here
        } else {
          line_.append(input.substr(0, len));
          line = line_;
        }
        input.remove_prefix(len);
        if (line.size() < 2 || line[line.size() - 2] != '\r') return fail(error::missing_crlf, ec);
        auto scalar = on_line(line.substr(0, line.size() - 2), ec);
        line_.clear();  // only now: `line` may view it
        if (ec) return std::nullopt;
        if (scalar) {
          if (auto top = complete(std::move(*scalar))) return top;
        }
        break;
      }
      case state::bulk_payload: {
        const std::size_t n = std::min(bulk_remaining_, input.size());
        bulk_.text_.append(input.data(), n);
        input.remove_prefix(n);
        bulk_remaining_ -= n;
        if (bulk_remaining_ == 0) state_ = state::bulk_crlf;
        break;
      }
      case state::bulk_crlf: {
        const char expected = crlf_seen_ == 0 ? '\r' : '\n';
        if (input.front() != expected) return fail(error::missing_crlf, ec);
        input.remove_prefix(1);
        if (++crlf_seen_ < 2) break;
        state_ = state::line;
        auto done = finish_bulk(ec);
        if (ec) return std::nullopt;
        if (auto top = complete(std::move(*done))) return top;
        break;
      }
    }
  }
  return std::nullopt;
}

std::optional<value> parser::on_line(std::string_view line, boost::system::error_code& ec) {
  if (line.empty()) return fail(error::invalid_type_byte, ec);
  const char type = line.front();
  const std::string_view body = line.substr(1);
  switch (type) {
    case '+': return value::make_simple(std::string{body});
    case '-': return value::make_error(std::string{body});
    case ':': {
      std::int64_t n = 0;
      if (!parse_int64(body, n)) return fail(error::bad_integer, ec);
      return value::make_integer(n);
    }
    case '$': return begin_bulk(kind::bulk_string, body, ec);
    case '!': return begin_bulk(kind::error, body, ec);
    case '=': return begin_bulk(kind::verbatim_string, body, ec);
    case '*': return begin_aggregate(kind::array, body, 1, false, ec);
    case '%': return begin_aggregate(kind::map, body, 2, false, ec);
    case '~': return begin_aggregate(kind::set, body, 1, false, ec);
    case '>': return begin_aggregate(kind::push, body, 1, false, ec);
    case '|': return begin_aggregate(kind::map, body, 2, true, ec);
    case '_': return value::make_nil();
    case ',': {
      double d = 0;
      if (body.empty()) return fail(error::bad_double, ec);
      auto [end, err] = std::from_chars(body.data(), body.data() + body.size(), d);
      if (err != std::errc{} || end != body.data() + body.size()) return fail(error::bad_double, ec);
      return value::make_double(d);
    }
    case '#':
      if (body == "t") return value::make_boolean(true);
      if (body == "f") return value::make_boolean(false);
      return fail(error::bad_boolean, ec);
    case '(': {
      const std::string_view digits = body.starts_with('-') ? body.substr(1) : body;
      if (digits.empty() || !std::all_of(digits.begin(), digits.end(),
                                         [](char c) { return c >= '0' && c <= '9'; })) {
        return fail(error::bad_big_number, ec);
      }
      return value::make_big_number(std::string{body});
    }
    default: return fail(error::invalid_type_byte, ec);
  }
}

std::optional<value> parser::begin_bulk(kind k, std::string_view body,
                                        boost::system::error_code& ec) {
  if (body == "?") return fail(error::streamed_unsupported, ec);
  std::int64_t size = 0;
  if (!parse_int64(body, size)) return fail(error::bad_integer, ec);
  if (size == -1 && k == kind::bulk_string) return value::make_nil();
  if (size < 0) return fail(error::bad_length, ec);
  if (static_cast<std::uint64_t>(size) > max_bulk_size) return fail(error::bulk_too_large, ec);
  bulk_ = value{};
  bulk_.kind_ = k;
  bulk_.text_.reserve(std::min(static_cast<std::size_t>(size), eager_reserve_limit) +
                      value::bulk_padding);
  bulk_remaining_ = static_cast<std::size_t>(size);
  crlf_seen_ = 0;
  state_ = size == 0 ? state::bulk_crlf : state::bulk_payload;
  return std::nullopt;
}

std::optional<value> parser::finish_bulk(boost::system::error_code& ec) {
  value v = std::move(bulk_);
  bulk_ = value{};
  if (v.kind_ == kind::verbatim_string) {
    if (v.text_.size() < 4 || v.text_[3] != ':') return fail(error::bad_verbatim, ec);
    std::copy_n(v.text_.begin(), 3, v.format_.begin());
    v.text_.erase(0, 4);
  }
  if (v.text_.capacity() < v.text_.size() + value::bulk_padding) {
    v.text_.reserve(v.text_.size() + value::bulk_padding);
  }
  return v;
}

std::optional<value> parser::begin_aggregate(kind k, std::string_view body,
                                             std::size_t per_entry, bool attribute,
                                             boost::system::error_code& ec) {
  if (body == "?") return fail(error::streamed_unsupported, ec);
  std::int64_t count = 0;
  if (!parse_int64(body, count)) return fail(error::bad_integer, ec);
  if (count == -1 && k == kind::array) return value::make_nil();
  if (count < 0) return fail(error::bad_length, ec);
  if (static_cast<std::uint64_t>(count) > max_aggregate_size) {
    return fail(error::aggregate_too_large, ec);
  }
  if (stack_.size() >= max_depth) return fail(error::nesting_too_deep, ec);
  const std::size_t elements = static_cast<std::size_t>(count) * per_entry;
  value v;
  v.kind_ = k;
  if (elements == 0) {
    if (attribute) return std::nullopt;  // an empty attribute is just dropped
    return v;
  }
  if (!attribute) v.elements_.reserve(std::min(elements, eager_elements_limit));
  stack_.push_back(frame{std::move(v), elements, attribute});
  return std::nullopt;
}

std::optional<value> parser::complete(value v) {
  while (!stack_.empty()) {
    frame& top = stack_.back();
    if (!top.attribute) top.aggregate.elements_.push_back(std::move(v));
    if (--top.remaining > 0) return std::nullopt;
    const bool attribute = top.attribute;
    v = std::move(top.aggregate);
    stack_.pop_back();
    // An attribute annotates the value after it and is not an element of
    // its parent, so it neither completes anything nor counts.
    if (attribute) return std::nullopt;
  }
  return v;
}

}  // namespace celeriac::resp
