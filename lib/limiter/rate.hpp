#pragma once
// A limit: at most `amount_per_window` units (requests, tokens, task runs)
// in any window of `window`, summed over every client of one Redis. Pure;
// the Redis side is limiter.hpp.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace celeriac::limiter {

struct limit {
  std::string key;  // e.g. "celeriac:limit:llm:openai:rpm" (see docs/rate-limits.md)
  double amount_per_window = 0;
  std::chrono::milliseconds window{60'000};
};

// Celery's rate strings: "10/s", "100/m", "1000/h", "5" (per second, as
// Celery reads a bare number). "0" or "" means no limit (nullopt). Throws
// std::invalid_argument naming the text otherwise.
std::optional<limit> parse_rate(std::string_view key, std::string_view text);

}  // namespace celeriac::limiter
