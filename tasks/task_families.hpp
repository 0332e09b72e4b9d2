#pragma once
// Every task celeriac ships, and the worker options the job families read.
// The worker adds these options to its own and calls register_all_tasks()
// before it forks, so worker/ holds no job-specific code: a new family
// adds its options and its registration here.

#include <string>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include "app/task_registry.hpp"

namespace celeriac::tasks {

struct family_options {
  std::string llm_config;    // --llm-config FILE
  std::string llm_base_url;  // --llm-base-url URL (a single OpenAI-compatible provider)
  std::string llm_model;     // --llm-model NAME
  std::string llm_api_key_env = "OPENAI_API_KEY";  // --llm-api-key-env NAME
  std::string llm_ca_file;   // --llm-ca-file FILE
};

// Adds the families' options (bound to `out`) to a command's options.
void add_family_options(boost::program_options::options_description& opts, family_options& out);

// Registers the built-in tasks and every job family's, reading and checking
// the families' settings. Throws std::invalid_argument with a message for
// the operator (a bad config file, a flag without its partner).
void register_all_tasks(app::task_registry& registry, const family_options& options);

// One line saying which LLM providers tasks will use, for the start-up log.
std::string describe_llm_providers();

}  // namespace celeriac::tasks
