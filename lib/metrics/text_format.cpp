#include "metrics/text_format.hpp"

#include <cmath>

#include <fmt/format.h>

namespace celeriac::metrics {

namespace {

// Backslash and line feed escaped; the double quote too inside a label value.
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string escape_help(std::string_view text) { return escape(text, false); }

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Exactly representable integers print as integers: counters read better
  // as "1204" than "1204.0" or "1.204e+03".
  constexpr double exact_limit = 9007199254740992.0;  // 2^53
  if (v == std::trunc(v) && std::fabs(v) <= exact_limit) return fmt::format("{:.0f}", v == 0 ? 0.0 : v);
  return fmt::format("{}", v);
}

}  // namespace celeriac::metrics
