// The request/answer contract: the request's exact user content, and the
// strict row-by-row reading of answers, every malformed kind included.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "json/dump.hpp"
#include "json/parse.hpp"
#include "json/value.hpp"
#include "tasks/llm/mapping_contract.hpp"

using namespace celeriac;
using namespace celeriac::tasks::llm;

namespace {

// A chat.completion body whose message content is `content`.
std::string answer(const std::string& content, const std::string& finish_reason = "stop") {
  json::object message{{"role", "assistant"}, {"content", content}};
  json::object choice{{"index", 0}, {"message", std::move(message)}, {"finish_reason", finish_reason}};
  json::array choices;
  choices.push_back(std::move(choice));
  json::object body{{"id", "chatcmpl-1"},
                    {"object", "chat.completion"},
                    {"model", "m1"},
                    {"choices", std::move(choices)},
                    {"usage", json::object{{"prompt_tokens", 120}, {"completion_tokens", 40}, {"total_tokens", 160}}}};
  return json::dump(json::value(std::move(body)));
}

std::string row(int i, const std::string& rest) { return "{\"i\":" + std::to_string(i) + "," + rest + "}"; }

std::string good(int i) { return row(i, R"("category":"Gas","ticker":"SHEL","confidence":0.9)"); }

std::string mappings(const std::vector<std::string>& rows) {
  std::string out = "{\"mappings\":[";
  for (std::size_t k = 0; k < rows.size(); ++k) out += (k ? "," : "") + rows[k];
  return out + "]}";
}

// The reason the single merchant of a one-row answer fails with.
std::string reason_for(const std::string& only_row) {
  auto a = parse_chat_response(answer(mappings({only_row})), 1);
  CHECK(a.answer_error.empty());
  CHECK_FALSE(a.rows[0]);
  return a.row_errors[0];
}

}  // namespace

TEST_CASE("the request: JSON mode, temperature 0, the user content exactly as agreed") {
  std::vector<merchant_item> m{{0, "STARBUCKS #1234 SEATTLE"}, {1, "Joe's \"Best\" \\ Caf\xC3\xA9\n"}};
  request_options o;
  o.model = "gpt-4o-mini";
  o.max_tokens = 500;
  const std::string body = build_chat_request(m, o);
  auto doc = json::parse(body);
  REQUIRE(doc);
  CHECK(doc->find("model")->as_string() == "gpt-4o-mini");
  CHECK(doc->find("temperature")->as_double() == 0.0);
  CHECK(doc->find("max_tokens")->as_integer() == 500);
  CHECK(doc->find("response_format")->find("type")->as_string() == "json_object");
  const auto& messages = doc->find("messages")->as_array();
  REQUIRE(messages.size() == 2);
  CHECK(messages[0].find("role")->as_string() == "system");
  const std::string& prompt = messages[0].find("content")->as_string();
  for (std::string_view c : known_categories()) CHECK(prompt.find("\"" + std::string(c) + "\"") != std::string::npos);
  CHECK(prompt.find("\"mappings\"") != std::string::npos);
  CHECK(messages[1].find("role")->as_string() == "user");
  const std::string& content = messages[1].find("content")->as_string();
  CHECK(content ==
        R"({"merchants":[{"i":0,"name":"STARBUCKS #1234 SEATTLE"},{"i":1,"name":"Joe's \"Best\" \\ Caf\u00e9\n"}]})");
  CHECK(content == merchants_content(m));
  // Round trip: the server parses back exactly the names sent.
  auto inner = json::parse(content);
  REQUIRE(inner);
  const auto& sent = inner->find("merchants")->as_array();
  REQUIRE(sent.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    CHECK(sent[k].find("i")->as_integer() == m[k].i);
    CHECK(sent[k].find("name")->as_string() == m[k].name);
  }
}

TEST_CASE("the user content: escaping of every awkward character") {
  CHECK(merchants_content({}) == R"({"merchants":[]})");
  CHECK(merchants_content({{7, "a\x01" "b\tc\x1f"}}) == R"({"merchants":[{"i":7,"name":"a\u0001b\tc\u001f"}]})");
  CHECK(merchants_content({{0, "\xF0\x9F\x8D\x95"}}) == R"({"merchants":[{"i":0,"name":"\ud83c\udf55"}]})");
  CHECK(merchants_content({{0, "bad \xFF"}}) == R"({"merchants":[{"i":0,"name":"bad \ufffd"}]})");
  CHECK(merchants_content({{0, "</script>&'"}}) == R"({"merchants":[{"i":0,"name":"</script>&'"}]})");
}

TEST_CASE("request options: own prompt, no JSON mode, no max_tokens, a temperature") {
  request_options o;
  o.model = "local";
  o.system_prompt = "Map these.";
  o.json_response_format = false;
  o.temperature = 0.25;
  auto doc = json::parse(build_chat_request({{0, "X"}}, o));
  REQUIRE(doc);
  CHECK(doc->find("messages")->as_array()[0].find("content")->as_string() == "Map these.");
  CHECK_FALSE(doc->find("response_format"));
  CHECK_FALSE(doc->find("max_tokens"));
  CHECK(doc->find("temperature")->as_double() == 0.25);
}

TEST_CASE("the categories") {
  auto c = known_categories();
  REQUIRE(c.size() == 12);
  CHECK(c.front() == "Food & Drink");
  CHECK(c.back() == "Other");
}

TEST_CASE("a good answer: every row, usage, model") {
  auto a = parse_chat_response(
      answer(mappings({row(1, R"("category":"Shopping","ticker":null,"confidence":0.5)"),
                       row(0, R"("category":" Food & Drink ","ticker":" sbux ","confidence":1)"),
                       row(2, R"("category":"Pet Supplies","confidence":0)")})),
      3);
  CHECK(a.answer_error.empty());
  REQUIRE(a.rows.size() == 3);
  REQUIRE(a.row_errors.size() == 3);
  REQUIRE(a.rows[0]);
  CHECK(a.rows[0]->category == "Food & Drink");
  CHECK(a.rows[0]->ticker == std::optional<std::string>("SBUX"));
  CHECK(a.rows[0]->confidence == 1.0);
  REQUIRE(a.rows[1]);
  CHECK_FALSE(a.rows[1]->ticker);
  REQUIRE(a.rows[2]);
  CHECK(a.rows[2]->category == "Pet Supplies");  // unknown categories are kept
  CHECK_FALSE(a.rows[2]->ticker);                // a missing ticker is null
  for (const auto& e : a.row_errors) CHECK(e.empty());
  CHECK(a.usage_present);
  CHECK(a.prompt_tokens == 120);
  CHECK(a.completion_tokens == 40);
  CHECK(a.model == "m1");
}

TEST_CASE("tickers that do not look like one become null, without failing the row") {
  for (const char* t : {"\"N/A\"", "\"\"", "\"private\"", "\"None\"", "\"null\"", "\"unknown\"", "\"NA\"",
                        "\"TOOLONGTICKER\"", "\"1ABC\"", "\"SB UX\"", "\"$SBUX\""}) {
    CAPTURE(t);
    auto a = parse_chat_response(answer(mappings({row(0, std::string(R"("category":"Gas","confidence":0.5,"ticker":)") + t)})), 1);
    REQUIRE(a.rows[0]);
    CHECK_FALSE(a.rows[0]->ticker);
  }
  for (auto [t, want] : std::vector<std::pair<std::string, std::string>>{
           {"\"brk.b\"", "BRK.B"}, {"\"BF-B\"", "BF-B"}, {"\"t\"", "T"}, {"\"ABCDEFGHIJ\"", "ABCDEFGHIJ"}}) {
    CAPTURE(t);
    auto a = parse_chat_response(answer(mappings({row(0, R"("category":"Gas","confidence":0.5,"ticker":)" + t)})), 1);
    REQUIRE(a.rows[0]);
    CHECK(a.rows[0]->ticker == std::optional<std::string>(want));
  }
}

TEST_CASE("a fenced answer, as some local models write it") {
  const std::string inner = mappings({good(0)});
  for (const std::string& content : {"```json\n" + inner + "\n```", "```\n" + inner + "\n```", "```json" + inner + "```",
                                     "  ```JSON\n" + inner + "\n```  \n", " \n" + inner + "\n "}) {
    CAPTURE(content);
    auto a = parse_chat_response(answer(content), 1);
    CHECK(a.answer_error.empty());
    REQUIRE(a.rows[0]);
    CHECK(a.rows[0]->category == "Gas");
  }
}

TEST_CASE("unusable answers fail every row with the reason") {
  for (auto [body, why] : std::vector<std::pair<std::string, std::string>>{
           {"<html>Bad Gateway</html>", "is not a JSON object: <html>Bad Gateway</html>"},
           {"", "(empty body)"},
           {"[1,2]", "not a JSON object"},
           {R"({"choices":[]})", "no choices"},
           {R"({"object":"chat.completion"})", "no choices"},
           {R"({"error":{"message":"model overloaded","type":"server_error"}})", "model overloaded"},
           {answer("Sure! Here are the mappings:"), "content is not JSON: Sure! Here are the mappings:"},
           {answer(R"({"mappings":[{"i":0,"categ)", "length"), "cut off at max_tokens"},
           {answer(R"({"answers":[]})"), "no \"mappings\" array"},
           {answer(R"({"mappings":{"i":0}})"), "no \"mappings\" array"},
           {answer(R"([{"i":0,"category":"Gas","confidence":1}])"), "is an array, not an object"},
           {R"({"choices":[{"message":{"role":"assistant","content":null}}]})", "not a string"},
           {R"({"choices":[{"message":{"role":"assistant","content":null,"refusal":"I can't help"}}]})",
            "the model refused: I can't help"},
           {R"({"choices":[{"finish_reason":"stop"}]})", "not a string"}}) {
    CAPTURE(body);
    auto a = parse_chat_response(body, 3);
    CHECK(a.answer_error.find(why) != std::string::npos);
    REQUIRE(a.rows.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK_FALSE(a.rows[i]);
      CHECK(a.row_errors[i] == a.answer_error);
    }
  }
}

TEST_CASE("messages quoted from an answer are printable UTF-8, cut short") {
  auto a = parse_chat_response(std::string("\x01garbage\xFF\n") + std::string(500, 'x'), 1);
  CHECK(a.answer_error.find("garbage\xEF\xBF\xBD x") != std::string::npos);
  CHECK(a.answer_error.size() < 250);
  CHECK(a.answer_error.find('\x01') == std::string::npos);
}

TEST_CASE("bad rows fail alone, with their reasons") {
  CHECK(reason_for(row(0, R"("category":"Gas","ticker":"SHEL","confidence":1.7)")) == "confidence 1.7 is outside 0..1");
  CHECK(reason_for(row(0, R"("category":"Gas","confidence":-0.1)")) == "confidence -0.1 is outside 0..1");
  CHECK(reason_for(row(0, R"("category":"Gas","confidence":"high")")) ==
        "the answer's confidence is a string, not a number");
  CHECK(reason_for(row(0, R"("category":"Gas","confidence":null)")) == "the answer's confidence is null, not a number");
  CHECK(reason_for(row(0, R"("category":"Gas","ticker":null)")) == "the answer has no confidence");
  CHECK(reason_for(row(0, R"("ticker":"X","confidence":0.5)")) == "the answer has no category");
  CHECK(reason_for(row(0, R"("category":7,"confidence":0.5)")) == "the answer's category is a number, not a string");
  CHECK(reason_for(row(0, R"("category":"  ","confidence":0.5)")) == "the answer's category is empty");
  CHECK(reason_for(row(0, R"("category":")" + std::string(201, 'a') + R"(","confidence":0.5)")) ==
        "the answer's category is 201 bytes long (at most 200)");
  CHECK(reason_for(row(0, R"("category":"Ga\u0000s","confidence":0.5)")) ==
        "the answer's category contains control characters");
  CHECK(reason_for(row(0, R"("category":"Gas","ticker":7,"confidence":0.5)")) ==
        "the answer's ticker is a number, neither a string nor null");
  CHECK(reason_for(row(0, R"("category":"Gas","ticker":["X"],"confidence":0.5)")).find("ticker") != std::string::npos);
  // 200 bytes is allowed.
  auto ok = parse_chat_response(answer(mappings({row(0, R"("category":")" + std::string(200, 'a') + R"(","confidence":0.5)")})), 1);
  CHECK(ok.rows[0]);
}

TEST_CASE("rows that name no merchant: their merchants are unanswered, and the reason says what came instead") {
  auto a = parse_chat_response(answer(mappings({good(0), R"({"category":"Gas","confidence":0.5})"})), 2);
  CHECK(a.rows[0]);
  CHECK_FALSE(a.rows[1]);
  CHECK(a.row_errors[1] == "no answer for this merchant; the answer has 1 row that names no merchant sent: a row "
                           "without \"i\"");
  for (auto [bad, why] : std::vector<std::pair<std::string, std::string>>{
           {row(5, R"("category":"Gas","confidence":0.5)"), "i 5 is outside 0..1"},
           {row(-1, R"("category":"Gas","confidence":0.5)"), "i -1 is outside 0..1"},
           {R"({"i":"1","category":"Gas","confidence":0.5})", "a row whose i is a string, not an integer"},
           {R"({"i":1.0,"category":"Gas","confidence":0.5})", "a row whose i is 1.0, not an integer"},
           {R"({"i":null,"category":"Gas","confidence":0.5})", "a row whose i is null, not an integer"},
           {R"("Gas")", "a row that is a string, not an object"}}) {
    CAPTURE(bad);
    auto b = parse_chat_response(answer(mappings({good(0), bad})), 2);
    CHECK(b.rows[0]);
    CHECK_FALSE(b.rows[1]);
    CHECK(b.row_errors[1].rfind("no answer for this merchant", 0) == 0);
    CHECK(b.row_errors[1].find(why) != std::string::npos);
  }
  auto c = parse_chat_response(answer(mappings({good(7), good(8)})), 1);
  CHECK(c.row_errors[0] == "no answer for this merchant; the answer has 2 rows that name no merchant sent: i 7 is "
                           "outside 0..0, ...");
  auto plain = parse_chat_response(answer(mappings({good(0)})), 2);
  CHECK(plain.row_errors[1] == "no answer for this merchant");
}

TEST_CASE("a merchant answered twice: neither answer is kept") {
  auto a = parse_chat_response(
      answer(mappings({good(0), row(1, R"("category":"Gas","confidence":0.5)"), row(1, R"("category":"Food","confidence":0.5)"),
                       row(2, R"("category":"Gas","confidence":9)"), good(2), good(2)})),
      3);
  CHECK(a.rows[0]);
  CHECK_FALSE(a.rows[1]);
  CHECK(a.row_errors[1] == "the model answered this merchant twice");
  CHECK_FALSE(a.rows[2]);
  CHECK(a.row_errors[2] == "the model answered this merchant twice");
}

TEST_CASE("usage and model: recorded when present and sane") {
  auto none = parse_chat_response(R"({"choices":[{"message":{"content":"{\"mappings\":[]}"}}]})", 0);
  CHECK(none.answer_error.empty());
  CHECK_FALSE(none.usage_present);
  CHECK(none.prompt_tokens == 0);
  CHECK(none.model.empty());
  auto negative = parse_chat_response(
      R"({"model":"x","usage":{"prompt_tokens":-5,"completion_tokens":1},"choices":[{"message":{"content":"{\"mappings\":[]}"}}]})",
      0);
  CHECK_FALSE(negative.usage_present);
  CHECK(negative.model == "x");
}

TEST_CASE("provider error messages") {
  CHECK(provider_error_message(R"({"error":{"message":"Rate limit reached","type":"requests"}})") == "Rate limit reached");
  CHECK(provider_error_message(R"({"error":"model 'x' not found"})") == "model 'x' not found");
  CHECK(provider_error_message(R"({"detail":"Not Found"})") == "Not Found");
  CHECK(provider_error_message(R"({"error":{"code":500}})") == R"({"error":{"code":500}})");
  CHECK(provider_error_message("upstream\nconnect error") == "upstream connect error");
  CHECK(provider_error_message("") == "(empty body)");
  const std::string long_body(1000, 'z');
  CHECK(provider_error_message(long_body) == std::string(200, 'z') + "...");
  // Cut on a character boundary, never inside one.
  std::string utf8;
  for (int k = 0; k < 150; ++k) utf8 += "\xC3\xA9";
  const std::string cut = provider_error_message(utf8);
  CHECK(cut == utf8.substr(0, 200) + "...");
  CHECK(provider_error_message("x" + utf8) == "x" + utf8.substr(0, 198) + "...");
}
