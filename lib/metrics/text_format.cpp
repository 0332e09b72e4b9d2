#include "metrics/text_format.hpp"

#include <cmath>

#include <fmt/format.h>

namespace celeriac::metrics {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

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
