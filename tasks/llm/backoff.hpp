#pragma once
// Waiting between retries of a provider call: exponential backoff with full
// jitter (AWS's "full jitter": uniform in [0, min(cap, base * 2^(n-1))],
// which spreads many clients' retries best), and the server's own word in
// Retry-After when it gives one.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace celeriac::tasks::llm {

// Delay before retry number `attempt` (1 = the first retry), from the
// caller's random bits so tests are deterministic. Uniform over whole
// milliseconds 0..ceiling inclusive; 0 when base or cap is not positive.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                        std::uint64_t random_bits);

// Retry-After as delta-seconds ("120", "1.5") or an HTTP date (IMF-fixdate
// "Wed, 21 Oct 2015 07:28:00 GMT", RFC 850 "Wednesday, 21-Oct-15 07:28:00
// GMT", asctime "Wed Oct 21 07:28:00 2015"). A date in the past is 0; more
// than a year is a year (the caller decides how long it is willing to
// wait); anything else, including negative numbers, is nullopt.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

// Statuses worth another try: 408, 409, 429 and 5xx (as OpenAI's clients do).
bool retryable_status(unsigned http_status) noexcept;

}  // namespace celeriac::tasks::llm
