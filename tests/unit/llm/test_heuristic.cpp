// The offline provider: its table is consistent with normalization and the
// contract, and its answers follow the documented rules.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "tasks/llm/heuristic.hpp"
#include "tasks/llm/heuristic_table.hpp"
#include "tasks/llm/mapping_contract.hpp"
#include "tasks/llm/merchant_key.hpp"

using namespace celeriac::tasks::llm;

namespace {

bool known_category(std::string_view c) {
  auto all = known_categories();
  return std::find(all.begin(), all.end(), c) != all.end();
}

bool looks_like_ticker(std::string_view t) {
  if (t.empty() || t.size() > 10 || !(t[0] >= 'A' && t[0] <= 'Z')) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

heuristic_answer map_raw(const char* raw) { return heuristic_map(normalize_merchant(raw)); }

void check_merchant(const char* raw, const char* category, std::optional<std::string> ticker) {
  CAPTURE(raw);
  auto a = map_raw(raw);
  CHECK(a.category == category);
  CHECK(a.ticker == ticker);
  CHECK(a.confidence == 0.75);
}

}  // namespace

TEST_CASE("the table: normalized names, known categories, ticker-shaped tickers, no duplicates") {
  const auto table = known_merchants();
  CHECK(table.size() >= 150);
  std::set<std::string_view> names;
  for (const auto& m : table) {
    CAPTURE(m.name);
    CHECK(normalize_merchant(m.name) == m.name);
    CHECK(known_category(m.category));
    CHECK(m.category != "Other");
    if (!m.ticker.empty()) CHECK(looks_like_ticker(m.ticker));
    CHECK(names.insert(m.name).second);
  }
  for (const auto& k : keyword_rules()) {
    CAPTURE(k.words);
    CHECK(normalize_merchant(k.words) == k.words);
    CHECK(known_category(k.category));
  }
}

TEST_CASE("well-known merchants from statement text: category and ticker") {
  check_merchant("STARBUCKS #1234 SEATTLE WA", "Food & Drink", "SBUX");
  check_merchant("AMZN Mktp US*2K3L45", "Shopping", "AMZN");
  check_merchant("AMAZON.COM*MK1234 AMZN.COM/BILL WA", "Shopping", "AMZN");
  check_merchant("WAL-MART #3214", "Groceries", "WMT");
  check_merchant("WALMART SUPERCENTER 4521 DALLAS TX", "Groceries", "WMT");
  check_merchant("TARGET 00012345", "Shopping", "TGT");
  check_merchant("COSTCO WHSE #0123", "Groceries", "COST");
  check_merchant("UBER   *TRIP", "Transportation", "UBER");
  check_merchant("LYFT *RIDE THU 8PM", "Transportation", "LYFT");
  check_merchant("SHELL OIL 57444 HOUSTON TX", "Gas", "SHEL");
  check_merchant("EXXONMOBIL 4711", "Gas", "XOM");
  check_merchant("EXXON 12 QUICK STOP", "Gas", "XOM");
  check_merchant("CHEVRON 0092345", "Gas", "CVX");
  check_merchant("McDonald's F1234", "Food & Drink", "MCD");
  check_merchant("NETFLIX.COM", "Entertainment", "NFLX");
  check_merchant("SPOTIFY USA", "Entertainment", "SPOT");
  check_merchant("APPLE.COM/BILL", "Shopping", "AAPL");
  check_merchant("APPLE STORE #R123", "Shopping", "AAPL");
  check_merchant("THE HOME DEPOT #6512", "Shopping", "HD");
  check_merchant("CVS/PHARMACY #04321", "Health", "CVS");
  check_merchant("WALGREENS #1234", "Health", "WBA");
  check_merchant("DELTA AIR 0062345", "Travel", "DAL");
  check_merchant("UNITED AIRLINES", "Travel", "UAL");
  check_merchant("MARRIOTT SEATTLE WA", "Travel", "MAR");
  check_merchant("COMCAST CABLE", "Utilities", "CMCSA");
  check_merchant("XFINITY MOBILE", "Utilities", "CMCSA");
  check_merchant("VERIZON WRLS", "Utilities", "VZ");
  check_merchant("AT&T MOBILITY", "Utilities", "T");
  check_merchant("CHIPOTLE 1234", "Food & Drink", "CMG");
  check_merchant("DOMINO'S 6789", "Food & Drink", "DPZ");
  check_merchant("DOMINOS PIZZA", "Food & Drink", "DPZ");
  check_merchant("KROGER #123", "Groceries", "KR");
  check_merchant("TRADER JOE'S #552", "Groceries", std::nullopt);
}

TEST_CASE("the longest matching name wins") {
  CHECK(heuristic_map("delta air lines").ticker == std::optional<std::string>("DAL"));
  CHECK(heuristic_map("uber eats").category == "Food & Drink");
  CHECK(heuristic_map("uber").category == "Transportation");
  CHECK(heuristic_map("the ups store").ticker == std::optional<std::string>("UPS"));
}

TEST_CASE("whole words only; common words count only at the start") {
  CHECK(heuristic_map("targeted ads llc").ticker != std::optional<std::string>("TGT"));
  CHECK(heuristic_map("bpx consulting").category != "Gas");
  CHECK(heuristic_map("starbucksy").ticker == std::nullopt);
  CHECK(heuristic_map("sea shell gifts").category != "Gas");
  CHECK(heuristic_map("big apple bagels").ticker == std::nullopt);
  CHECK(heuristic_map("nyc subway fare").category != "Food & Drink");
  CHECK(heuristic_map("shell service station").ticker == std::optional<std::string>("SHEL"));
  CHECK(heuristic_map("subway").category == "Food & Drink");
  CHECK(heuristic_map("joe's starbucks kiosk").ticker == std::optional<std::string>("SBUX"));
}

TEST_CASE("keyword rules: the first rule that matches, confidence 0.4, no ticker") {
  for (auto [key, category] : std::vector<std::pair<const char*, const char*>>{
           {"sunrise bakery", "Food & Drink"},   {"blue bottle coffee", "Food & Drink"},
           {"corner pizza grill", "Food & Drink"}, {"farmers market", "Groceries"},
           {"quick fuel", "Gas"},               {"valley dental", "Health"},
           {"seaside inn", "Travel"},           {"city parking", "Transportation"},
           {"pacific gas & electric", "Utilities"}, {"gas station market", "Gas"},
           {"first national bank", "Financial"}, {"grand cinema", "Entertainment"},
           {"hair salon", "Services"},          {"coffee shop", "Food & Drink"},
           {"corner store", "Shopping"},        {"urgent care north", "Health"}}) {
    CAPTURE(key);
    auto a = heuristic_map(key);
    CHECK(a.category == category);
    CHECK_FALSE(a.ticker);
    CHECK(a.confidence == 0.4);
  }
}

TEST_CASE("otherwise Other, no ticker, confidence 0.1") {
  for (const char* key : {"qwzx holdings", "", "#1234", "barista", "gasket supply co"}) {
    CAPTURE(key);
    auto a = heuristic_map(key);
    CHECK(a.category == "Other");
    CHECK_FALSE(a.ticker);
    CHECK(a.confidence == 0.1);
  }
}

TEST_CASE("deterministic") {
  for (const char* key : {"starbucks", "sunrise bakery", "qwzx"}) {
    auto a = heuristic_map(key), b = heuristic_map(key);
    CHECK(a.category == b.category);
    CHECK(a.ticker == b.ticker);
    CHECK(a.confidence == b.confidence);
  }
}
