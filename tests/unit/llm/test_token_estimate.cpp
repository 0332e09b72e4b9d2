#include <doctest/doctest.h>

#include "tasks/llm/mapping_contract.hpp"
#include "tasks/llm/token_estimate.hpp"

using namespace celeriac::tasks::llm;

TEST_CASE("prompt tokens: bytes / 4 rounded up, 3 per message, 3 for the reply") {
  CHECK(estimate_prompt_tokens("") == 3);
  CHECK(estimate_prompt_tokens("x") == 4);
  CHECK(estimate_prompt_tokens(std::string(400, 'x')) == 103);
  CHECK(estimate_prompt_tokens(std::string(401, 'x')) == 104);
  const std::string body = R"({"messages":[{"role":"system","content":"abc"},{"role":"user","content":"d"}]})";
  CHECK(estimate_prompt_tokens(body) == static_cast<std::int64_t>((body.size() + 3) / 4) + 2 * 3 + 3);
}

TEST_CASE("prompt tokens grow with the batch, and stay above a plain bytes/4") {
  request_options o;
  o.model = "m";
  std::vector<merchant_item> small{{0, "STARBUCKS"}}, big;
  for (int i = 0; i < 50; ++i) big.push_back({i, "SOME MERCHANT NAME #" + std::to_string(i)});
  const std::string a = build_chat_request(small, o), b = build_chat_request(big, o);
  CHECK(estimate_prompt_tokens(b) > estimate_prompt_tokens(a));
  CHECK(estimate_prompt_tokens(a) * 4 >= static_cast<std::int64_t>(a.size()));
}

TEST_CASE("completion tokens: 30 per merchant + 10") {
  CHECK(estimate_completion_tokens(0) == 10);
  CHECK(estimate_completion_tokens(1) == 40);
  CHECK(estimate_completion_tokens(25) == 760);
}

TEST_CASE("cost") {
  CHECK(cost_usd(1'000'000, 500'000, 0.15, 0.60) == doctest::Approx(0.45));
  CHECK(cost_usd(0, 0, 5, 15) == 0.0);
  CHECK(cost_usd(1200, 300, 0, 0) == 0.0);
  CHECK(cost_usd(-5, 100, 1, 1) == doctest::Approx(0.0001));  // negative counts are not credits
}
