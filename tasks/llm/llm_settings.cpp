#include "tasks/llm/llm_settings.hpp"

#include <algorithm>

namespace celeriac::tasks::llm {
namespace {

llm_settings& process_settings() {
  static llm_settings s;
  return s;
}

}  // namespace

void set_llm_settings(llm_settings s) { process_settings() = std::move(s); }

const llm_settings& current_llm_settings() noexcept { return process_settings(); }

bool has_model_provider(const llm_config& config) noexcept {
  return std::any_of(config.providers.begin(), config.providers.end(),
                     [](const provider_config& p) { return p.kind != provider_kind::heuristic; });
}

}  // namespace celeriac::tasks::llm
