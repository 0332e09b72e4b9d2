#pragma once
// The materialized-view refresh job family (docs/jobs.md):
//
//   celeriac.views.refresh      kwargs view (required), concurrently (true),
//                               lock_timeout, statement_timeout (seconds)
//       -> {"view", "mode": "concurrently" | "plain" | "coalesced", "seconds", "rows"}
//   celeriac.views.refresh_all  kwargs concurrently, lock_timeout, statement_timeout
//       -> {"views": [each refresh's result], "seconds"}
//
// Failures: ValueError for a name that is not a materialized view (or one
// dropped before its refresh), TimeoutError when lock_timeout or
// statement_timeout ran out, TypeError for badly typed arguments; a lost
// connection to PostgreSQL retries the task.

#include "app/task_registry.hpp"

namespace celeriac::tasks {

void register_views_tasks(app::task_registry& registry);

}  // namespace celeriac::tasks
