#pragma once
// TOML values (an entry's args and kwargs) → JSON text, written as Python's
// json.dumps writes them with its defaults, so a beat-sent message carries
// the same bytes a Celery client would: ", " and ": " separators,
// ensure_ascii (\uXXXX escapes in lower-case hex, surrogate pairs above the
// BMP), integers in decimal, floats in Python repr form (1.0, 1e-05, 1e+16).
// Table keys come out in sorted order: toml++ does not keep file order.

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>
#include <toml++/toml.h>

namespace celeriac::scheduler {

struct json_conversion_error {
  std::string message;  // names the value's path: `args[1]: inf has no JSON form; ...`
  std::size_t line = 0; // source line of the offending value (0 if unknown)
};

// Returns the JSON text of `value`. `path` names the value in messages
// ("args", "kwargs"); nested values extend it ("kwargs.when", "args[2]").
// Errors: TOML dates and times, and inf/nan floats, have no JSON form.
boost::system::result<std::string, json_conversion_error> toml_to_json(const toml::node& value,
                                                                       std::string_view path);

// Appends `s` (UTF-8, as toml++ guarantees) as a JSON string literal,
// quotes included, with ensure_ascii escaping.
void append_json_string(std::string& out, std::string_view s);

// Lets result::value() throw std::invalid_argument(message). Found by ADL.
[[noreturn]] void throw_exception_from_error(const json_conversion_error& e, const boost::source_location& loc);

}  // namespace celeriac::scheduler
