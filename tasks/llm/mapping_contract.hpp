#pragma once
// The request/answer contract every OpenAI-compatible server and the tests
// agree on (docs/jobs.md, "The request contract"):
//
//   request:  POST {base_url}/chat/completions, JSON mode, temperature 0; the
//             last user message's content is exactly
//             {"merchants":[{"i":0,"name":"STARBUCKS #1234 SEATTLE"},...]}
//   answer:   choices[0].message.content is
//             {"mappings":[{"i":0,"category":"...","ticker":"SBUX"|null,"confidence":0.93},...]}
//
// Parsing is strict row by row: a row that breaks the contract fails with
// its reason and the others are kept. One tolerance: content wrapped in a
// markdown fence ("```json ... ```"), which some local models write even in
// JSON mode, is unwrapped. Every message is valid UTF-8 without control
// characters (they end up in PostgreSQL and in logs).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace celeriac::tasks::llm {

struct merchant_item {
  int i = 0;
  std::string name;
};

struct request_options {
  std::string model;
  double temperature = 0;
  std::optional<int> max_tokens;
  bool json_response_format = true;
  std::string system_prompt;  // empty: the built-in prompt
};

// The categories the prompt offers. Answers outside the list are kept
// (models drift; a review fixes them), but must be a non-empty string.
std::span<const std::string_view> known_categories();

// The JSON body of the chat-completions request (compact JSON, non-ASCII
// escaped as \uXXXX).
std::string build_chat_request(const std::vector<merchant_item>& merchants, const request_options& options);

// The last user message's content alone (what the server parses): exactly
// what Python's json.dumps({"merchants": [...]}, separators=(",", ":"))
// writes, keys in the order i, name.
std::string merchants_content(const std::vector<merchant_item>& merchants);

struct mapping {
  std::string category;
  std::optional<std::string> ticker;
  double confidence = 0;
};

struct parsed_answer {
  std::vector<std::optional<mapping>> rows;  // one per merchant sent, by i
  std::vector<std::string> row_errors;       // the reason where rows[i] is empty (else "")
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  bool usage_present = false;
  std::string model;         // as the server echoed it
  std::string answer_error;  // the whole answer is unusable: why
};

// Row reasons: "no answer for this merchant" (followed by what the answer
// had instead when some of its rows name no merchant sent: a missing i, one
// that is not an integer or out of range), "the model answered this
// merchant twice" (neither answer is kept), a missing, empty, over-long or
// non-string category, a ticker that is neither a string nor null,
// "confidence 1.7 is outside 0..1". A ticker string that does not look like
// one (^[A-Z][A-Z0-9.-]{0,9}$ once trimmed and upper-cased) becomes null.
parsed_answer parse_chat_response(std::string_view http_body, std::size_t merchants_sent);

// error.message of an OpenAI error body (or a local server's "error",
// "detail" or "message" string), else the body's first 200 bytes; printable.
std::string provider_error_message(std::string_view http_body);

}  // namespace celeriac::tasks::llm
