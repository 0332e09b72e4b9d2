#include <doctest/doctest.h>

#include "tasks/llm/merchant_key.hpp"

using celeriac::tasks::llm::normalize_merchant;

TEST_CASE("the documented examples") {
  CHECK(normalize_merchant("STARBUCKS #1234 SEATTLE WA") == "starbucks");
  CHECK(normalize_merchant("Starbucks Store 0042") == "starbucks");
  CHECK(normalize_merchant("  SQ *BLUE BOTTLE COFFEE  ") == "blue bottle coffee");
  CHECK(normalize_merchant("AMZN Mktp US*2K3L45") == "amzn mktp us");
  CHECK(normalize_merchant("Trader Joe's #552") == "trader joe's");
  CHECK(normalize_merchant("UBER   *TRIP") == "uber");
  CHECK(normalize_merchant("SHELL OIL 57444 HOUSTON TX") == "shell oil");
  CHECK(normalize_merchant("TST* JOE'S DINER") == "joe's diner");
  CHECK(normalize_merchant("PAYPAL *NETFLIX") == "netflix");
  CHECK(normalize_merchant("STARBUCKS # 1234") == "starbucks");
  CHECK(normalize_merchant("Starbucks No. 12") == "starbucks");
  CHECK(normalize_merchant("STARBUCKS #A12") == "starbucks");
  CHECK(normalize_merchant("MACY'S NEW YORK NY") == "macy's");
  CHECK(normalize_merchant("WALGREENS 800-925-4733") == "walgreens");
  CHECK(normalize_merchant("AT&T MOBILITY") == "at&t mobility");
  CHECK(normalize_merchant("7-ELEVEN 35092") == "7-eleven");
}

TEST_CASE("whitespace, case and punctuation") {
  CHECK(normalize_merchant("a\t b\n\nc") == "a b c");
  CHECK(normalize_merchant("Caf\xC3\xA9 Ol\xC3\xA9") == "caf\xC3\xA9 ol\xC3\xA9");
  CHECK(normalize_merchant("NBSP\xC2\xA0NAME") == "nbsp name");
  CHECK(normalize_merchant("Joe's, Pizza!") == "joe's pizza");
  CHECK(normalize_merchant("bad \xFF byte") == "bad \xEF\xBF\xBD byte");
}

TEST_CASE("never empty for a visible name; a lone city and state stays") {
  CHECK(normalize_merchant("#1234") == "#1234");
  CHECK(normalize_merchant("SEATTLE WA") == "seattle wa");
  CHECK(normalize_merchant("   ") == "");
  CHECK(normalize_merchant("12345") == "12345");
}

TEST_CASE("idempotent") {
  for (const char* raw : {"STARBUCKS #1234 SEATTLE WA", "SQ *BLUE BOTTLE COFFEE", "AMZN Mktp US*2K3L45",
                          "UBER *TRIP", "Trader Joe's #552", "SHELL OIL 57444 HOUSTON TX", "NETFLIX.COM",
                          "Caf\xC3\xA9 #3", "POS DEBIT WALMART SUPERCENTER 4521 DALLAS TX", "#1234", "SEATTLE WA",
                          "a b c d e f", "x * y * z", "sq *", "STORE 12"}) {
    CAPTURE(raw);
    const std::string once = normalize_merchant(raw);
    CHECK(normalize_merchant(once) == once);
  }
}
