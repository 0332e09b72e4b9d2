#include "tasks/task_families.hpp"

#include <stdexcept>

#include <boost/program_options/value_semantic.hpp>
#include <fmt/format.h>

#include "tasks/analytics/analytics_tasks.hpp"
#include "tasks/builtin_tasks.hpp"
#include "tasks/csv_import/csv_import_task.hpp"
#include "tasks/llm/llm_settings.hpp"
#include "tasks/llm/llm_tasks.hpp"
#include "tasks/views/views_tasks.hpp"

namespace celeriac::tasks {
namespace po = boost::program_options;

void add_family_options(po::options_description& opts, family_options& out) {
  // clang-format off
  opts.add_options()
    ("llm-config", po::value(&out.llm_config), "TOML file of LLM providers for celeriac.llm.* ([[provider]] tables; "
                                               "see docs/jobs.md). Default: the offline heuristic provider")
    ("llm-base-url", po::value(&out.llm_base_url), "one OpenAI-compatible provider at this URL, e.g. "
                                                   "https://api.openai.com/v1 or http://127.0.0.1:8000/v1 (with --llm-model)")
    ("llm-model", po::value(&out.llm_model), "the model --llm-base-url serves, e.g. gpt-4o-mini")
    ("llm-api-key-env", po::value(&out.llm_api_key_env)->default_value("OPENAI_API_KEY"),
        "environment variable holding the API key for --llm-base-url (never logged)")
    ("llm-ca-file", po::value(&out.llm_ca_file), "PEM file of extra CA certificates to trust for https:// providers");
  // clang-format on
}

namespace {

llm::llm_settings read_llm_settings(const family_options& o) {
  llm::llm_settings s;
  if (!o.llm_config.empty() && !o.llm_base_url.empty())
    throw std::invalid_argument("--llm-config and --llm-base-url both name providers: use one of them");
  if (o.llm_base_url.empty() != o.llm_model.empty())
    throw std::invalid_argument("--llm-base-url and --llm-model go together: give both, or use --llm-config");
  try {
    if (!o.llm_config.empty())
      s.config = llm::load_llm_config(o.llm_config);
    else if (!o.llm_base_url.empty())
      s.config = llm::single_provider_config(o.llm_base_url, o.llm_model, o.llm_api_key_env);
  } catch (const std::exception& e) {
    throw std::invalid_argument(e.what());
  }
  s.extra_ca_file = o.llm_ca_file;
  return s;
}

}  // namespace

void register_all_tasks(app::task_registry& registry, const family_options& options) {
  llm::set_llm_settings(read_llm_settings(options));
  register_builtin_tasks(registry);
  register_csv_import_task(registry);
  register_llm_tasks(registry);
  register_views_tasks(registry);
  register_analytics_tasks(registry);
}

std::string describe_llm_providers() {
  std::string out;
  for (const auto& p : llm::current_llm_settings().config.providers) {
    if (!out.empty()) out += ", then ";
    out += p.kind == llm::provider_kind::heuristic ? fmt::format("{} (offline heuristic)", p.name)
                                                   : fmt::format("{} ({} at {})", p.name, p.model, p.base_url);
  }
  return out;
}

}  // namespace celeriac::tasks
