#pragma once
// The LLM mapping job family (docs/jobs.md):
//
//   celeriac.llm.map_pending   kwargs max_rows (10000), batch_size (25), concurrency (8),
//                              provider (optional), lease_seconds (the config's claim_lease)
//       -> {"rows_mapped", "rows_failed", "cache_hits", "near_hits", "llm_calls",
//           "tokens_in", "tokens_out", "cost_usd", "seconds", ...}
//   celeriac.llm.map_merchant  args [name]
//       -> {"category", "ticker", "confidence", "source"}   source: cache, near, llm or heuristic
//
// Both need a worker started with --database; providers come from
// set_llm_settings() (the worker's --llm-config / --llm-base-url flags).

#include "app/task_registry.hpp"

namespace celeriac::tasks {

inline constexpr const char* map_pending_task_name = "celeriac.llm.map_pending";
inline constexpr const char* map_merchant_task_name = "celeriac.llm.map_merchant";

void register_llm_tasks(app::task_registry& registry);

}  // namespace celeriac::tasks
