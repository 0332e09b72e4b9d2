// The pure half of a charge: checks, the scripts' KEYS/ARGV, their replies.
#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "limiter/charge_call.hpp"
#include "unit/limiter/reply_values.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
using test::integers;

TEST_CASE("a limit's keys share its key as a hash tag") {
  auto k = limiter::keys_for(limiter::limit{"celeriac:limit:llm:openai:rpm", 500, 60s});
  CHECK(k.log == "{celeriac:limit:llm:openai:rpm}:log");
  CHECK(k.amounts == "{celeriac:limit:llm:openai:rpm}:amounts");
  CHECK(k.sum == "{celeriac:limit:llm:openai:rpm}:sum");
}

TEST_CASE("the charge script gets three keys and three numbers per limit, after the id") {
  limiter::limit rpm{"r", 500, 60s}, tpm{"t", 200000.5, 1500ms};
  const limiter::charge charges[] = {{&rpm, 1}, {&tpm, 812.25}};
  auto call = limiter::charge_call(charges, "id-1");
  CHECK(call.keys == std::vector<std::string>{"{r}:log", "{r}:amounts", "{r}:sum", "{t}:log", "{t}:amounts", "{t}:sum"});
  CHECK(call.args == std::vector<std::string>{"id-1", "500", "60000", "1", "200000.5", "1500", "812.25"});
}

TEST_CASE("the adjust script gets the limit's keys, the id, the signed delta and the window") {
  auto call = limiter::adjust_call(limiter::limit{"t", 100, 2s}, "id-2", -30);
  CHECK(call.keys == std::vector<std::string>{"{t}:log", "{t}:amounts", "{t}:sum"});
  CHECK(call.args == std::vector<std::string>{"id-2", "-30", "2000"});
}

TEST_CASE("malformed limits and charges are refused before anything is sent") {
  limiter::limit good{"g", 10, 1s};
  auto refused = [](std::vector<limiter::charge> charges) {
    CHECK_THROWS_AS(limiter::check_charges(charges), std::invalid_argument);
  };
  CHECK_NOTHROW(limiter::check_charges(std::vector<limiter::charge>{}));
  CHECK_NOTHROW(limiter::check_charges(std::vector<limiter::charge>{{&good, 0}}));
  refused({{nullptr, 1}});
  refused({{&good, -1}});
  refused({{&good, std::numeric_limits<double>::infinity()}});
  refused({{&good, std::numeric_limits<double>::quiet_NaN()}});
  limiter::limit empty_key{"", 10, 1s}, zero{"z", 0, 1s}, no_window{"w", 10, 0ms},
      endless{"e", std::numeric_limits<double>::infinity(), 1s};
  refused({{&empty_key, 1}});
  refused({{&zero, 1}});
  refused({{&no_window, 1}});
  refused({{&endless, 1}});
  limiter::limit same_key{"g", 20, 2s};
  try {
    limiter::check_charges(std::vector<limiter::charge>{{&good, 1}, {&same_key, 1}});
    FAIL("the same key twice was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("rate limit g appears twice") != std::string::npos);
  }
}

TEST_CASE("a granted reply carries the charge id") {
  limiter::limit l{"l", 5, 1s};
  const limiter::charge charges[] = {{&l, 1}};
  auto d = limiter::read_charge_reply(integers({1}), charges, "abc");
  CHECK(d.granted);
  CHECK(d.id == "abc");
  CHECK(d.short_key.empty());
}

TEST_CASE("a refused reply names the wait and the limit that was short") {
  limiter::limit rpm{"rpm", 5, 1s}, tpm{"tpm", 100, 1s};
  const limiter::charge charges[] = {{&rpm, 1}, {&tpm, 80}};
  auto d = limiter::read_charge_reply(integers({0, 250, 2}), charges, "abc");
  CHECK_FALSE(d.granted);
  CHECK(d.id.empty());
  CHECK(d.retry_after == 250ms);
  CHECK(d.short_key == "tpm");
}

TEST_CASE("replies of another shape are errors, not decisions") {
  limiter::limit l{"l", 5, 1s};
  const limiter::charge charges[] = {{&l, 1}};
  for (const auto& reply : {resp::value::make_error("ERR user_script:3: boom"), resp::value::make_nil(),
                            resp::value::make_integer(1), integers({}), integers({2}), integers({0}),
                            integers({0, 0, 1}), integers({0, 10, 0}), integers({0, 10, 2})}) {
    CAPTURE(reply.to_debug_string());
    CHECK_THROWS_AS(limiter::read_charge_reply(reply, charges, "id"), std::runtime_error);
  }
}
