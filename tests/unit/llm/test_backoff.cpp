// Backoff with full jitter, Retry-After in all its forms, and which
// statuses are worth a retry.
#include <doctest/doctest.h>

#include <array>
#include <random>

#include "tasks/llm/backoff.hpp"

using namespace celeriac::tasks::llm;
using namespace std::chrono_literals;

namespace {

// Wed, 21 Oct 2015 07:28:00 GMT
const auto now = std::chrono::system_clock::from_time_t(1445412480);

}  // namespace

TEST_CASE("full jitter stays in [0, min(cap, base * 2^(n-1))] and reaches both ends") {
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 10; ++attempt) {
    const auto ceiling = std::min<std::chrono::milliseconds>(30'000ms, 500ms * (1 << (attempt - 1)));
    std::chrono::milliseconds lo = ceiling, hi{0};
    for (int i = 0; i < 2000; ++i) {
      auto d = backoff_delay(attempt, 500ms, 30'000ms, rng());
      REQUIRE(d >= 0ms);
      REQUIRE(d <= ceiling);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    CHECK(lo < ceiling / 10);
    CHECK(hi > ceiling * 9 / 10);
  }
}

TEST_CASE("full jitter is uniform: ten buckets, none far from a tenth") {
  std::mt19937_64 rng(7);
  std::array<int, 10> buckets{};
  const int draws = 100'000;
  for (int i = 0; i < draws; ++i) {
    const auto d = backoff_delay(3, 500ms, 30'000ms, rng());  // ceiling 2000 ms
    ++buckets[static_cast<std::size_t>(std::min<long>(9, d.count() * 10 / 2001))];
  }
  for (int b : buckets) {
    CHECK(b > draws / 10 * 9 / 10);
    CHECK(b < draws / 10 * 11 / 10);
  }
}

TEST_CASE("the random bits decide, the ends are inclusive") {
  CHECK(backoff_delay(1, 500ms, 30s, 0) == 0ms);
  CHECK(backoff_delay(1, 500ms, 30s, 500) == 500ms);
  CHECK(backoff_delay(1, 500ms, 30s, 501) == 0ms);
  CHECK(backoff_delay(2, 500ms, 30s, 1000) == 1000ms);
  CHECK(backoff_delay(3, 500ms, 30s, 2000) == 2000ms);
  CHECK(backoff_delay(3, 500ms, 1500ms, 1500) == 1500ms);  // capped
  CHECK(backoff_delay(3, 500ms, 1500ms, 1501) == 0ms);
}

TEST_CASE("odd inputs stay in bounds") {
  CHECK(backoff_delay(0, 500ms, 30s, 400) == 400ms);    // attempt < 1 counts as the first
  CHECK(backoff_delay(-3, 500ms, 30s, 501) == 0ms);
  CHECK(backoff_delay(1000, 500ms, 30s, ~0ull) <= 30s);  // no overflow at huge attempts
  CHECK(backoff_delay(64, 1ms, std::chrono::milliseconds::max(), ~0ull) >= 0ms);
  CHECK(backoff_delay(3, 0ms, 30s, 12345) == 0ms);
  CHECK(backoff_delay(3, 500ms, 0ms, 12345) == 0ms);
  CHECK(backoff_delay(3, -500ms, 30s, 12345) == 0ms);
}

TEST_CASE("Retry-After: delta-seconds") {
  CHECK(parse_retry_after("120", now) == std::optional(120'000ms));
  CHECK(parse_retry_after("0", now) == std::optional(0ms));
  CHECK(parse_retry_after(" 1.5 ", now) == std::optional(1500ms));
  CHECK(parse_retry_after("0.25", now) == std::optional(250ms));
  CHECK(parse_retry_after("007", now) == std::optional(7000ms));
  CHECK(parse_retry_after("99999999999999999999999", now) == std::optional<std::chrono::milliseconds>(365 * 24h));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK_FALSE(parse_retry_after("+5", now));
  CHECK_FALSE(parse_retry_after("5s", now));
  CHECK_FALSE(parse_retry_after("1e3", now));
  CHECK_FALSE(parse_retry_after("1.2.3", now));
  CHECK_FALSE(parse_retry_after("5.", now));
  CHECK_FALSE(parse_retry_after("inf", now));
  CHECK_FALSE(parse_retry_after("nan", now));
}

TEST_CASE("Retry-After: the three HTTP-date forms") {
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == std::optional(30'000ms));
  CHECK(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now) == std::optional(60'000ms));
  CHECK(parse_retry_after("Wed Oct 21 07:28:10 2015", now) == std::optional(10'000ms));
  CHECK(parse_retry_after("Thu Oct 22 07:28:00 2015", now) == std::optional<std::chrono::milliseconds>(24h));
  CHECK(parse_retry_after("Sun Nov  1 00:00:00 2015", now) ==
        std::optional(std::chrono::milliseconds((1446336000LL - 1445412480LL) * 1000)));
  CHECK(parse_retry_after("Thu, 01 Jan 2026 00:00:00 GMT", now) ==
        std::optional(std::chrono::milliseconds((1767225600LL - 1445412480LL) * 1000)));
}

TEST_CASE("Retry-After: a date in the past is 0") {
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == std::optional(0ms));
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now) == std::optional(0ms));
  CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994", now) == std::optional(0ms));
}

TEST_CASE("Retry-After: RFC 850 two-digit years are the nearest past century beyond 50 years") {
  // From 2015: "64" is 2064 (49 years ahead), "66" is 1966.
  CHECK(parse_retry_after("Tuesday, 21-Oct-64 07:28:00 GMT", now) > std::optional(0ms));
  CHECK(parse_retry_after("Thursday, 21-Oct-66 07:28:00 GMT", now) == std::optional(0ms));
}

TEST_CASE("Retry-After: garbage is nullopt") {
  for (const char* bad : {"", "   ", "soon", "Wed, 21 Foo 2015 07:28:30 GMT", "Wed, 32 Oct 2015 07:28:30 GMT",
                          "Wed, 31 Feb 2015 07:28:30 GMT", "Wed, 21 Oct 2015 25:28:30 GMT",
                          "Wed, 21 Oct 2015 07:28:30 PST", "Wed, 21 Oct 15 07:28:30 GMT", "Xyz, 21 Oct 2015 07:28:30 GMT",
                          "Wed, 21 Oct 2015 7:28:30 GMT", "Wednesday, 21-Oct-2015 07:28:00 GMT", "Wed Oct 21 07:28:10",
                          "Wed, 21 Oct 2015"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_retry_after(bad, now));
  }
  CHECK(parse_retry_after("Mon, 29 Feb 2016 00:00:00 GMT", now));  // a leap day is a day
  CHECK_FALSE(parse_retry_after("Tue, 29 Feb 2015 00:00:00 GMT", now));
}

TEST_CASE("retryable statuses: 408, 409, 429 and 5xx") {
  for (unsigned s : {408u, 409u, 429u, 500u, 502u, 503u, 504u, 520u, 599u}) CHECK(retryable_status(s));
  for (unsigned s : {100u, 200u, 204u, 301u, 400u, 401u, 403u, 404u, 405u, 413u, 422u, 600u, 0u})
    CHECK_FALSE(retryable_status(s));
}
