#pragma once
// The lexical pieces of Prometheus's text exposition format 0.0.4:
// escaping of label values and HELP text, and sample values.

#include <string>
#include <string_view>

namespace celeriac::metrics {

// The Content-Type a scrape answers with.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

// A label value between its double quotes: backslash, double quote and
// line feed escaped as \\, \" and \n; every other byte as it is (UTF-8).
std::string escape_label_value(std::string_view value);

// HELP text: backslash and line feed escaped as \\ and \n (a double quote
// stays as it is there).
std::string escape_help(std::string_view text);

// A sample value as Go's ParseFloat reads it: integers without a fraction
// or exponent (up to 2^53), other numbers in their shortest round-trip
// form, and +Inf, -Inf, NaN.
std::string format_value(double v);

}  // namespace celeriac::metrics
