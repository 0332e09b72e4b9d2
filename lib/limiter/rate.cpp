#include "limiter/rate.hpp"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace celeriac::limiter {

std::optional<limit> parse_rate(std::string_view key, std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  const auto slash = text.find('/');
  std::string_view number = text.substr(0, slash);
  double amount = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), amount);
  if (ec != std::errc() || p != number.data() + number.size() || !(amount >= 0))
    throw std::invalid_argument(
        fmt::format("rate '{}' is not a rate: write a number per unit, e.g. \"10/s\", \"100/m\" or \"1000/h\"", text));
  if (amount == 0) return std::nullopt;
  std::chrono::milliseconds window{1000};
  if (slash != std::string_view::npos) {
    std::string_view unit = text.substr(slash + 1);
    if (unit == "s")
      window = std::chrono::seconds(1);
    else if (unit == "m")
      window = std::chrono::minutes(1);
    else if (unit == "h")
      window = std::chrono::hours(1);
    else
      throw std::invalid_argument(fmt::format("rate '{}' has unit '{}': use s, m or h", text, unit));
  }
  return limit{std::string(key), amount, window};
}

}  // namespace celeriac::limiter
