#include "limiter/rate.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace celeriac::limiter {
namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

[[noreturn]] void refuse(std::string_view text, std::string_view why) {
  throw std::invalid_argument(fmt::format(
      "rate '{}' {}: write a number per unit, e.g. \"10/s\", \"100/m\" or \"1000/h\" (\"0\" for no limit)", text,
      why));
}

std::chrono::milliseconds window_of(std::string_view text, std::string_view unit) {
  if (unit.empty() || unit == "s") return std::chrono::seconds(1);
  if (unit == "m") return std::chrono::minutes(1);
  if (unit == "h") return std::chrono::hours(1);
  refuse(text, fmt::format("has the unit '{}', which is not s, m or h", unit));
}

}  // namespace

std::optional<limit> parse_rate(std::string_view key, std::string_view text) {
  text = trimmed(text);
  if (text.empty()) return std::nullopt;
  const auto slash = text.find('/');
  const std::string_view number = trimmed(text.substr(0, slash));
  const std::string_view unit = slash == std::string_view::npos ? std::string_view() : trimmed(text.substr(slash + 1));
  double amount = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), amount);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size())
    refuse(text, "does not start with a number");
  if (!std::isfinite(amount) || amount < 0) refuse(text, "is not a finite number of zero or more");
  const auto window = window_of(text, unit);
  if (amount == 0) return std::nullopt;
  return limit{std::string(key), amount, window};
}

}  // namespace celeriac::limiter
