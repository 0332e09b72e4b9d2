#include <doctest/doctest.h>

#include "admin/confirm.hpp"
#include "admin/queue_list.hpp"

using namespace celeriac::admin;

namespace {

std::vector<std::string> names(std::string_view text) {
  auto parsed = parse_queue_list(text);
  REQUIRE(parsed.has_value());
  std::vector<std::string> out;
  for (const auto& q : *parsed) out.push_back(q.str());
  return out;
}

}  // namespace

TEST_CASE("-Q lists") {
  CHECK(names("celery") == std::vector<std::string>{"celery"});
  CHECK(names("celery, csv ,llm") == std::vector<std::string>{"celery", "csv", "llm"});
  CHECK(names("a,b,a") == std::vector<std::string>{"a", "b"});
  CHECK(names("").empty());
  CHECK(names("  ").empty());
  auto empty_item = parse_queue_list("a,,b");
  REQUIRE_FALSE(empty_item.has_value());
  CHECK(empty_item.error().message == "empty queue name in 'a,,b'");
  auto bad = parse_queue_list("ok,no\"pe");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("'no\"pe'") != std::string::npos);
}

TEST_CASE("confirmation: --force goes on, a terminal asks, anything else refuses") {
  CHECK(confirmation_needed(true, false) == confirmation::proceed);
  CHECK(confirmation_needed(true, true) == confirmation::proceed);
  CHECK(confirmation_needed(false, true) == confirmation::ask);
  CHECK(confirmation_needed(false, false) == confirmation::refuse);
}

TEST_CASE("only yes confirms") {
  for (auto yes : {"yes", "YES", " Yes \n", "yes\r"}) CHECK(confirmed(yes));
  for (auto no : {"", "y", "no", "yess", "ye s", "yes please"}) CHECK_FALSE(confirmed(no));
}
