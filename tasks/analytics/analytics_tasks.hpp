#pragma once
// Scheduled analytics and maintenance (docs/jobs.md):
//
//   celeriac.analytics.dashboard_stats   -> the dashboard_stats figures and "seconds"
//   celeriac.analytics.daily_rollup      kwargs day ("YYYY-MM-DD", default yesterday in UTC)
//   celeriac.maintenance.partitions      kwargs months_ahead (3), retention_months (13)
//       -> {"created": [...], "dropped": [...], "moved_rows": N}
//
// All idempotent: a repeated or caught-up run leaves what one run would.

#include "app/task_registry.hpp"

namespace celeriac::tasks {

void register_analytics_tasks(app::task_registry& registry);

}  // namespace celeriac::tasks
