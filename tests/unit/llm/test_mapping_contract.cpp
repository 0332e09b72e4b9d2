#include <doctest/doctest.h>

#include "json/parse.hpp"
#include "tasks/llm/mapping_contract.hpp"

using namespace celeriac;
using namespace celeriac::tasks::llm;

namespace {

std::string answer(const std::string& content_json) {
  std::string escaped;
  for (char c : content_json) {
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return R"({"id":"x","object":"chat.completion","model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":")" +
         escaped + R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160}})";
}

}  // namespace

TEST_CASE("the request: JSON mode, temperature 0, the user content exactly as agreed") {
  std::vector<merchant_item> m{{0, "STARBUCKS #1234 SEATTLE"}, {1, "Joe's \"Best\" \\ Caf\xC3\xA9\n"}};
  request_options o;
  o.model = "gpt-4o-mini";
  o.max_tokens = 500;
  std::string body = build_chat_request(m, o);
  auto doc = json::parse(body);
  REQUIRE(doc);
  CHECK(doc->find("model")->as_string() == "gpt-4o-mini");
  CHECK(doc->find("temperature")->as_double() == 0.0);
  CHECK(doc->find("max_tokens")->as_integer() == 500);
  CHECK(doc->find("response_format")->find("type")->as_string() == "json_object");
  const auto& messages = doc->find("messages")->as_array();
  REQUIRE(messages.size() == 2);
  CHECK(messages[0].find("role")->as_string() == "system");
  CHECK(messages[0].find("content")->as_string().find("Food & Drink") != std::string::npos);
  CHECK(messages[1].find("role")->as_string() == "user");
  const std::string& content = messages[1].find("content")->as_string();
  CHECK(content ==
        R"({"merchants":[{"i":0,"name":"STARBUCKS #1234 SEATTLE"},{"i":1,"name":"Joe's \"Best\" \\ Caf\u00e9\n"}]})");
  auto inner = json::parse(content);
  REQUIRE(inner);
  CHECK(inner->find("merchants")->as_array()[1].find("name")->as_string() == m[1].name);
}

TEST_CASE("a good answer: every row, usage, model") {
  auto a = parse_chat_response(
      answer(R"({"mappings":[{"i":1,"category":"Shopping","ticker":null,"confidence":0.5},{"i":0,"category":" Food & Drink ","ticker":"sbux","confidence":1}]})"),
      2);
  CHECK(a.answer_error.empty());
  REQUIRE(a.rows[0]);
  CHECK(a.rows[0]->category == "Food & Drink");
  CHECK(a.rows[0]->ticker == std::optional<std::string>("SBUX"));
  CHECK(a.rows[0]->confidence == 1.0);
  REQUIRE(a.rows[1]);
  CHECK_FALSE(a.rows[1]->ticker);
  CHECK(a.usage_present);
  CHECK(a.prompt_tokens == 120);
  CHECK(a.completion_tokens == 40);
  CHECK(a.model == "m1");
}

TEST_CASE("a fenced answer, as some local models write it") {
  auto a = parse_chat_response(answer("```json\n{\"mappings\":[{\"i\":0,\"category\":\"Gas\",\"ticker\":\"SHEL\",\"confidence\":0.9}]}\n```"), 1);
  REQUIRE(a.rows[0]);
  CHECK(a.rows[0]->category == "Gas");
}

TEST_CASE("unusable answers fail every row with the reason") {
  for (auto [body, why] : std::vector<std::pair<std::string, std::string>>{
           {"<html>Bad Gateway</html>", "not JSON"},
           {R"({"choices":[]})", "no choices"},
           {answer("Sure! Here are the mappings:"), "not JSON"},
           {answer(R"({"answers":[]})"), "mappings"},
           {R"({"choices":[{"message":{"content":null}}]})", "not a string"}}) {
    CAPTURE(body);
    auto a = parse_chat_response(body, 3);
    CHECK(a.answer_error.find(why) != std::string::npos);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK_FALSE(a.rows[i]);
      CHECK(a.row_errors[i] == a.answer_error);
    }
  }
}

TEST_CASE("bad rows fail alone, with their reasons") {
  auto a = parse_chat_response(answer(R"({"mappings":[
      {"i":0,"category":"Gas","ticker":"SHEL","confidence":1.7},
      {"i":1,"ticker":"X","confidence":0.5},
      {"i":99,"category":"Gas","ticker":null,"confidence":0.5},
      {"i":2,"category":"Gas","ticker":null,"confidence":0.5},
      {"i":2,"category":"Food","ticker":null,"confidence":0.5},
      {"i":3,"category":"","ticker":null,"confidence":0.5},
      {"i":4,"category":"Gas","ticker":7,"confidence":0.5},
      {"i":5,"category":"Gas","ticker":"not a ticker!","confidence":"high"},
      {"i":6,"category":"Gas","ticker":"brk.b","confidence":0},
      {"category":"Gas","ticker":null,"confidence":0.5}]})"),
                               8);
  CHECK(a.answer_error.empty());
  CHECK(a.row_errors[0] == "confidence 1.7 is outside 0..1");
  CHECK(a.row_errors[1].find("category") != std::string::npos);
  CHECK(a.row_errors[2] == "the model answered this merchant twice");
  CHECK(a.row_errors[3].find("empty") != std::string::npos);
  CHECK(a.row_errors[4].find("ticker") != std::string::npos);
  CHECK(a.row_errors[5].find("confidence") != std::string::npos);
  REQUIRE(a.rows[6]);
  CHECK(a.rows[6]->ticker == std::optional<std::string>("BRK.B"));
  CHECK(a.row_errors[7] == "no answer for this merchant");
  for (int i : {0, 1, 2, 3, 4, 5, 7}) CHECK_FALSE(a.rows[i]);
}

TEST_CASE("provider error messages") {
  CHECK(provider_error_message(R"({"error":{"message":"Rate limit reached","type":"requests"}})") == "Rate limit reached");
  CHECK(provider_error_message("upstream\nconnect error") == "upstream connect error");
}
