#pragma once
// The materialized-view refresh job family (docs/jobs.md):
//
//   celeriac.views.refresh      kwargs view (required), concurrently (true),
//                               lock_timeout, statement_timeout (seconds)
//       -> {"view", "mode": "concurrently" | "plain" | "coalesced", "seconds", "rows"}
//   celeriac.views.refresh_all  kwargs concurrently, lock_timeout, statement_timeout
//       -> {"views": [each refresh's result], "seconds"}

#include "app/task_registry.hpp"

namespace celeriac::tasks {

void register_views_tasks(app::task_registry& registry);

}  // namespace celeriac::tasks
