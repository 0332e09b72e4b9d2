#pragma once
// The LLM family's settings for this worker process: the providers (from
// --llm-config, or --llm-base-url/--llm-model, or the offline heuristic
// provider by default) and the options of the HTTP client. Set once, before
// the worker forks its children (who inherit them), like task_resources.

#include <string>

#include "tasks/llm/provider_config.hpp"

namespace celeriac::tasks::llm {

struct llm_settings {
  llm_config config = default_llm_config();
  std::string extra_ca_file;  // --llm-ca-file: trusted in addition to each provider's ca_file and the system store
};

void set_llm_settings(llm_settings s);
const llm_settings& current_llm_settings() noexcept;

// True when a provider other than the heuristic one is configured.
bool has_model_provider(const llm_config& config) noexcept;

}  // namespace celeriac::tasks::llm
