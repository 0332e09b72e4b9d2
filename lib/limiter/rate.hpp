#pragma once
// A limit: at most `amount_per_window` units (requests, tokens, task runs)
// in any window of length `window`, summed over every client of one Redis.
// Pure; the Redis side is limiter.hpp.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace celeriac::limiter {

struct limit {
  // Chosen by the caller: celeriac:limit:<scope>:<name>:<what>, e.g.
  // "celeriac:limit:llm:openai:rpm" (docs/rate-limits.md).
  std::string key;
  double amount_per_window = 0;
  std::chrono::milliseconds window{60'000};
};

// Celery's rate strings, as celery.utils.time.rate reads them: "10/s",
// "100/m", "1000/h", "0.5/s"; a bare number or an empty unit ("5", "5/")
// is per second. "0" or "" means no limit (nullopt). Throws
// std::invalid_argument quoting the text for anything else (a unit other
// than s/m/h, a negative or non-finite number, trailing garbage).
std::optional<limit> parse_rate(std::string_view key, std::string_view text);

}  // namespace celeriac::limiter
