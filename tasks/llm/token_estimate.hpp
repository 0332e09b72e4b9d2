#pragma once
// What a call will cost before it is made: the tokens-per-minute limit is
// charged with these estimates, then corrected with the server's usage.
// They err on the high side (a limiter that undercharges lets a burst
// through and earns 429s); the correction gives the difference back.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace celeriac::tasks::llm {

// About four bytes of JSON per token (rounded up), plus the few tokens the
// chat format adds per message and per reply.
std::int64_t estimate_prompt_tokens(std::string_view request_body);

// An answer row ({"i":0,"category":"...","ticker":"...","confidence":0.9})
// is about 30 tokens, the wrapper about 10.
std::int64_t estimate_completion_tokens(std::size_t merchants);

// USD for the tokens at the provider's prices per million tokens.
double cost_usd(std::int64_t tokens_in, std::int64_t tokens_out, double price_in_per_mtok, double price_out_per_mtok);

}  // namespace celeriac::tasks::llm
