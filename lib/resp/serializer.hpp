// Writing commands in RESP: every command is an array of bulk strings, the
// only request form Redis parses without guessing.
#pragma once

#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <ranges>
#include <string>
#include <string_view>

namespace celeriac::resp {

// Appends "*<count>\r\n": the header of a command of `count` arguments,
// which must be followed by exactly `count` append_bulk calls.
void append_array_header(std::string& out, std::size_t count);

// Appends "$<size>\r\n<bytes>\r\n". Any bytes are allowed (binary safe).
void append_bulk(std::string& out, std::string_view bytes);

// Appends one whole command, e.g. {"SET", "k", "v"}, to `out`; no effect on
// what `out` already holds.
void append_command(std::string& out, std::initializer_list<std::string_view> args);

// Appends one whole command whose arguments are the elements of `args`
// (anything convertible to std::string_view: std::string, const char*...).
template <std::ranges::forward_range R>
  requires std::convertible_to<std::ranges::range_reference_t<const R&>, std::string_view>
void append_command(std::string& out, const R& args) {
  append_array_header(out, static_cast<std::size_t>(std::ranges::distance(args)));
  for (auto&& arg : args) append_bulk(out, std::string_view{arg});
}

}  // namespace celeriac::resp
