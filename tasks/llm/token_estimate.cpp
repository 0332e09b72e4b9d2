#include "tasks/llm/token_estimate.hpp"

namespace celeriac::tasks::llm {

std::int64_t estimate_prompt_tokens(std::string_view body) {
  return static_cast<std::int64_t>((body.size() + 3) / 4) + 8;
}

std::int64_t estimate_completion_tokens(std::size_t merchants) { return static_cast<std::int64_t>(merchants) * 30 + 10; }

double cost_usd(std::int64_t tokens_in, std::int64_t tokens_out, double price_in, double price_out) {
  return (static_cast<double>(tokens_in) * price_in + static_cast<double>(tokens_out) * price_out) / 1e6;
}

}  // namespace celeriac::tasks::llm
