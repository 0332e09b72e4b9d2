#pragma once
// LLM providers, from the worker's --llm-config FILE (TOML), from the
// --llm-base-url/--llm-model shortcut, or the default: the offline
// heuristic provider alone. docs/jobs.md shows a full file.
//
//   near_threshold = 0.85          # top level, before any [[provider]]
//   [[provider]]
//   name = "openai"                # unique; letters, digits, "_.-"
//   kind = "openai"                # or "heuristic"
//   base_url = "https://api.openai.com/v1"
//   model = "gpt-4o-mini"
//   ...
//
// Unknown keys are errors (a typo must not pass silently); every error
// names FILE:LINE and what to write instead. The key itself is never held
// here, only the name of the environment variable that holds it.
//
// Order: priority (lower first), then the cheaper (price_in + price_out),
// then file order. A kind = "heuristic" provider takes only name and
// priority; without a priority it goes after every model. A file without
// one gets the heuristic provider (named "heuristic") appended as the last
// resort, unless it says fallback_heuristic = false.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace celeriac::tasks::llm {

enum class provider_kind { openai, heuristic };

struct provider_config {
  std::string name;
  provider_kind kind = provider_kind::openai;
  std::string base_url;                         // openai: http:// or https://
  std::string model;                            // openai: required
  std::string api_key_env = "OPENAI_API_KEY";   // the variable may be unset (local servers); "": never a key
  int priority = 100;                           // lower first (heuristic: after every model)
  double price_in_per_mtok = 0;                 // USD per million prompt tokens
  double price_out_per_mtok = 0;                // USD per million completion tokens
  long requests_per_minute = 0;                 // cluster-wide; 0 = no limit
  long tokens_per_minute = 0;                   // cluster-wide; 0 = no limit
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{60000};
  int max_retries = 4;                          // per call: 429, 5xx, timeouts
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{30000};
  int down_after = 3;                           // failed calls in a row before it is skipped
  std::chrono::milliseconds down_for{60000};
  std::optional<int> max_tokens;                // sent as max_tokens
  std::string ca_file;                          // extra CA (PEM) for https
  double temperature = 0;
};

struct llm_config {
  // In the order tried: priority, then the cheaper (price_in + price_out),
  // then file order; the heuristic provider last unless fallback_heuristic
  // is false.
  std::vector<provider_config> providers;
  double near_threshold = 0.85;       // pg_trgm similarity for a near match, 0 < x <= 1
  double near_min_confidence = 0.9;   // a cached answer must be this sure (or approved) to answer one
  // The most one chunk's near-match lookup may take; past it the chunk goes
  // without near matches (trigram searches slow down as the cache grows
  // with names that share common trigrams).
  std::chrono::milliseconds near_timeout{250};
  std::chrono::milliseconds claim_lease{300000};
};

class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

llm_config parse_llm_config(std::string_view toml_text, std::string_view source_name);
llm_config load_llm_config(const std::string& path);

// The --llm-base-url URL --llm-model NAME shortcut: one provider "default",
// then the heuristic fallback.
llm_config single_provider_config(std::string base_url, std::string model, std::string api_key_env);

// The heuristic provider alone (no network).
llm_config default_llm_config();

// "500ms", "5s", "2m", "1h", "1m30s" -> milliseconds; nullopt if malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace celeriac::tasks::llm
