#pragma once
// JSON text → json::value, with simdjson doing the validation and scanning.

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "json/value.hpp"

namespace celeriac::json {

struct parse_error {
  std::string message;  // e.g. "invalid JSON: TAPE_ERROR ..."
};
std::ostream& operator<<(std::ostream& os, const parse_error& e);

// Parses one complete JSON document. Integers that do not fit in int64
// become doubles (Python's ints are unbounded; ours are not). Returns a
// parse_error with simdjson's reason on malformed input; never throws.
// Thread-safe: each thread keeps its own simdjson parser.
boost::system::result<value, parse_error> parse(std::string_view text);

}  // namespace celeriac::json
