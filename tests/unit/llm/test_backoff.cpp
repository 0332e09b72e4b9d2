#include <doctest/doctest.h>

#include <random>

#include "tasks/llm/backoff.hpp"
#include "tasks/llm/token_estimate.hpp"

using namespace celeriac::tasks::llm;
using namespace std::chrono_literals;

TEST_CASE("full jitter stays in [0, min(cap, base * 2^(n-1))] and spreads over it") {
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const auto ceiling = std::min<std::chrono::milliseconds>(30'000ms, 500ms * (1 << (attempt - 1)));
    std::chrono::milliseconds lo = ceiling, hi{0};
    for (int i = 0; i < 2000; ++i) {
      auto d = backoff_delay(attempt, 500ms, 30'000ms, rng());
      CHECK(d >= 0ms);
      CHECK(d <= ceiling);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    CHECK(lo < ceiling / 10);
    CHECK(hi > ceiling * 9 / 10);
  }
  CHECK(backoff_delay(100, 500ms, 30'000ms, ~0ull) <= 30'000ms);
}

TEST_CASE("Retry-After: seconds and the three HTTP date forms") {
  const auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(parse_retry_after("120", now) == std::optional(120'000ms));
  CHECK(parse_retry_after(" 1.5 ", now) == std::optional(1500ms));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == std::optional(30'000ms));
  CHECK(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now) == std::optional(60'000ms));
  CHECK(parse_retry_after("Wed Oct 21 07:28:10 2015", now) == std::optional(10'000ms));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == std::optional(0ms));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK_FALSE(parse_retry_after("Wed, 21 Foo 2015 07:28:30 GMT", now));
}

TEST_CASE("retryable statuses") {
  for (unsigned s : {408u, 409u, 429u, 500u, 502u, 503u, 504u}) CHECK(retryable_status(s));
  for (unsigned s : {200u, 400u, 401u, 403u, 404u, 422u}) CHECK_FALSE(retryable_status(s));
}

TEST_CASE("token estimates and cost") {
  CHECK(estimate_prompt_tokens(std::string(400, 'x')) == 108);
  CHECK(estimate_completion_tokens(25) == 760);
  CHECK(cost_usd(1'000'000, 500'000, 0.15, 0.60) == doctest::Approx(0.45));
}
