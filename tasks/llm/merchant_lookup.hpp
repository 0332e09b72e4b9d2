#pragma once
// celeriac.llm.map_merchant's path for one name: the cache (one indexed
// lookup), then a near match, then the model, whose answer is cached for
// every later lookup. A name another worker is asking a model right now is
// not asked again: the lookup waits briefly for that answer and otherwise
// answers heuristically without caching.

#include <optional>
#include <string>

#include "app/task_context.hpp"
#include "tasks/llm/llm_settings.hpp"

namespace celeriac::tasks::llm {

struct merchant_lookup_result {
  std::string category;
  std::optional<std::string> ticker;
  double confidence = 0;
  std::string source;  // cache, near, llm or heuristic
};

merchant_lookup_result lookup_merchant(app::task_context& ctx, const std::string& name, const llm_settings& settings);

}  // namespace celeriac::tasks::llm
