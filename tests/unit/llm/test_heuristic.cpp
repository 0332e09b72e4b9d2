#include <doctest/doctest.h>

#include "tasks/llm/heuristic.hpp"
#include "tasks/llm/merchant_key.hpp"

using namespace celeriac::tasks::llm;

TEST_CASE("well-known merchants: category and ticker") {
  auto s = heuristic_map(normalize_merchant("STARBUCKS #1234 SEATTLE WA"));
  CHECK(s.category == "Food & Drink");
  CHECK(s.ticker == std::optional<std::string>("SBUX"));
  CHECK(s.confidence == 0.75);
  CHECK(heuristic_map("amzn mktp us").ticker == std::optional<std::string>("AMZN"));
  CHECK(heuristic_map("delta air lines").ticker == std::optional<std::string>("DAL"));
  CHECK(heuristic_map("walmart supercenter").category == "Groceries");
  CHECK(heuristic_map("at&t mobility").ticker == std::optional<std::string>("T"));
}

TEST_CASE("whole words only") {
  CHECK(heuristic_map("targeted ads llc").ticker != std::optional<std::string>("TGT"));
  CHECK(heuristic_map("bpx consulting").category != "Gas");
}

TEST_CASE("keyword rules, then Other") {
  auto k = heuristic_map("sunrise bakery");
  CHECK(k.category == "Food & Drink");
  CHECK_FALSE(k.ticker);
  CHECK(k.confidence == 0.4);
  auto o = heuristic_map("qwzx holdings");
  CHECK(o.category == "Other");
  CHECK(o.confidence == 0.1);
}
