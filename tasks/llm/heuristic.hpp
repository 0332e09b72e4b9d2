#pragma once
// The offline provider: a shipped table of well-known merchants and keyword
// rules. The default when no LLM is configured (the demo and a fresh
// install work without a network) and the router's last resort. Its
// answers say source = 'heuristic' and carry a low confidence: 0.75 for a
// table match, 0.4 for a keyword rule, 0.1 for "Other".

#include <optional>
#include <string>
#include <string_view>

namespace celeriac::tasks::llm {

struct heuristic_answer {
  std::string category;
  std::optional<std::string> ticker;
  double confidence = 0;
};

// `merchant_key` is a normalized name (normalize_merchant).
heuristic_answer heuristic_map(std::string_view merchant_key);

}  // namespace celeriac::tasks::llm
