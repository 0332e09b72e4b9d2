#include "tasks/llm/heuristic.hpp"

#include "tasks/llm/heuristic_table.hpp"

namespace celeriac::tasks::llm {
namespace {

constexpr double table_confidence = 0.75;
constexpr double keyword_confidence = 0.4;
constexpr double other_confidence = 0.1;

bool word_boundary_before(std::string_view key, std::size_t at) { return at == 0 || key[at - 1] == ' '; }
bool word_boundary_after(std::string_view key, std::size_t end) { return end == key.size() || key[end] == ' '; }

// True when `words` occurs in `key` as whole words (at its start only, for
// match_at::key_start).
bool has_words(std::string_view key, std::string_view words, match_at where = match_at::any_words) {
  if (words.empty()) return false;
  for (std::size_t at = key.find(words); at != std::string_view::npos; at = key.find(words, at + 1)) {
    if (where == match_at::key_start && at != 0) return false;
    if (word_boundary_before(key, at) && word_boundary_after(key, at + words.size())) return true;
  }
  return false;
}

}  // namespace

heuristic_answer heuristic_map(std::string_view key) {
  // The longest matching name wins ("delta air lines" over "delta air",
  // "uber eats" over "uber"); among equals, the first in the table.
  const known_merchant* best = nullptr;
  for (const known_merchant& m : known_merchants())
    if ((!best || m.name.size() > best->name.size()) && has_words(key, m.name, m.where)) best = &m;
  if (best) {
    heuristic_answer a{std::string(best->category), std::nullopt, table_confidence};
    if (!best->ticker.empty()) a.ticker = std::string(best->ticker);
    return a;
  }
  for (const keyword_rule& k : keyword_rules())
    if (has_words(key, k.words)) return {std::string(k.category), std::nullopt, keyword_confidence};
  return {"Other", std::nullopt, other_confidence};
}

}  // namespace celeriac::tasks::llm
