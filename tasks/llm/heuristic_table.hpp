#pragma once
// The heuristic provider's data (tasks/llm/heuristic_table.cpp): known
// merchants and keyword rules. Names and keywords are written normalized
// (normalize_merchant(name) == name; the unit tests check it).

#include <span>
#include <string_view>

namespace celeriac::tasks::llm {

enum class match_at {
  any_words,  // a whole-word run anywhere in the key: "amzn" in "amzn mktp us"
  key_start,  // only at the start of the key: "shell" in "shell oil", not in "sea shell gifts"
};

struct known_merchant {
  std::string_view name;
  std::string_view category;  // one of known_categories()
  std::string_view ticker;    // empty: not publicly traded (or not in the US)
  match_at where = match_at::any_words;
};

struct keyword_rule {
  std::string_view words;  // whole words, e.g. "coffee" or "urgent care"
  std::string_view category;
};

// About 300 names of well-known US merchants (brands written several ways).
std::span<const known_merchant> known_merchants();

// Tried in order; the first rule whose words occur in the key decides.
std::span<const keyword_rule> keyword_rules();

}  // namespace celeriac::tasks::llm
