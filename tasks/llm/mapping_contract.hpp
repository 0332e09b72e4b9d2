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
// its reason and the others are kept.

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

// The JSON body of the chat-completions request.
std::string build_chat_request(const std::vector<merchant_item>& merchants, const request_options& options);

// The last user message's content alone (what the server parses).
std::string merchants_content(const std::vector<merchant_item>& merchants);

struct mapping {
  std::string category;
  std::optional<std::string> ticker;
  double confidence = 0;
};

struct parsed_answer {
  std::vector<std::optional<mapping>> rows;  // one per merchant sent, by i
  std::vector<std::string> row_errors;       // the reason where rows[i] is empty
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  bool usage_present = false;
  std::string model;         // as the server echoed it
  std::string answer_error;  // the whole answer is unusable: why
};

parsed_answer parse_chat_response(std::string_view http_body, std::size_t merchants_sent);

// error.message of an OpenAI error body, else the body's first 200 bytes.
std::string provider_error_message(std::string_view http_body);

}  // namespace celeriac::tasks::llm
