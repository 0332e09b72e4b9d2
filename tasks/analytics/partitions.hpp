#pragma once
// Monthly partitions of ai_interactions (range-partitioned on created_at,
// partitions named ai_interactions_YYYY_MM, UTC month boundaries, and a
// DEFAULT partition that takes any row no month covers).
//
// Creates this month's and the next `months_ahead` months' partitions and
// drops the monthly partitions whose whole month lies more than
// `retention_months` before this month. A month whose rows already sit in
// the default partition still gets its partition: in one transaction the
// rows move out of the default partition into a new table that is then
// attached. Concurrent runs queue on a transaction advisory lock.

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace celeriac::tasks::analytics {

struct partition_report {
  std::vector<std::string> created;
  std::vector<std::string> dropped;
  std::int64_t moved_rows = 0;
};

partition_report maintain_partitions(pqxx::connection& c, int months_ahead, int retention_months);

}  // namespace celeriac::tasks::analytics
