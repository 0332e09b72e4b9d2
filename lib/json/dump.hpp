#pragma once
// json::value → JSON text, formatted exactly as Python's json.dumps does
// with its defaults (what kombu and Celery write): ", " and ": " separators,
// ensure_ascii (\uXXXX escapes, surrogate pairs above the BMP), floats in
// Python repr form (1.0, 1e-05, 1e+16), NaN/Infinity spelled as Python does.

#include <cstdint>
#include <string>
#include <string_view>

#include "json/value.hpp"

namespace celeriac::json {

enum class style {
  python,   // ", " / ": " — byte-compatible with json.dumps defaults
  compact,  // "," / ":" — for our own storage where size matters
};

// Appends the JSON text of v to out.
void dump_to(std::string& out, const value& v, style s = style::python);

// Returns the JSON text of v.
std::string dump(const value& v, style s = style::python);

// Appends s as a JSON string literal (quotes included) with ensure_ascii
// escaping. Invalid UTF-8 bytes are written as \ufffd rather than passed
// through, so the output is always valid JSON.
void dump_string_to(std::string& out, std::string_view s);

// Appends d formatted as Python's repr(float) does.
void dump_double_to(std::string& out, double d);

// Appends n in decimal.
void dump_integer_to(std::string& out, std::int64_t n);

}  // namespace celeriac::json
