#include "tasks/llm/token_estimate.hpp"

#include <algorithm>

namespace celeriac::tasks::llm {
namespace {

// OpenAI's accounting for chat messages: about 3 tokens of framing per
// message and 3 that prime the reply.
constexpr std::int64_t tokens_per_message = 3;
constexpr std::int64_t tokens_per_reply = 3;

// Messages in a chat request body: each has one "role" member.
std::int64_t count_messages(std::string_view body) {
  std::int64_t n = 0;
  for (auto at = body.find("\"role\""); at != std::string_view::npos; at = body.find("\"role\"", at + 1)) ++n;
  return n;
}

}  // namespace

std::int64_t estimate_prompt_tokens(std::string_view body) {
  const auto text = static_cast<std::int64_t>((body.size() + 3) / 4);
  return text + count_messages(body) * tokens_per_message + tokens_per_reply;
}

std::int64_t estimate_completion_tokens(std::size_t merchants) { return static_cast<std::int64_t>(merchants) * 30 + 10; }

double cost_usd(std::int64_t tokens_in, std::int64_t tokens_out, double price_in, double price_out) {
  const auto in = static_cast<double>(std::max<std::int64_t>(tokens_in, 0));
  const auto out = static_cast<double>(std::max<std::int64_t>(tokens_out, 0));
  return (in * price_in + out * price_out) / 1e6;
}

}  // namespace celeriac::tasks::llm
