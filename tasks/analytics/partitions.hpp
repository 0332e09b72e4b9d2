#pragma once
// Monthly partitions of ai_interactions (range-partitioned on created_at,
// partitions named ai_interactions_YYYY_MM, UTC month boundaries, and a
// DEFAULT partition that takes any row no month covers). What is created
// and dropped: partition_plan.hpp.
//
// Every run is one transaction, queued behind other runs on a transaction
// advisory lock. A new month's partition is created as a plain table (LIKE
// ai_interactions), filled with that month's rows moved out of the default
// partition (DELETE ... RETURNING), then attached: a month whose rows
// arrived before its partition still gets it, and attaching leaves
// ai_interactions open to inserts while it runs (ATTACH takes SHARE UPDATE
// EXCLUSIVE on the parent; CREATE TABLE ... PARTITION OF and DROP would
// take ACCESS EXCLUSIVE). Table locks wait at most `lock_timeout`, so a
// long query on ai_interactions makes the run fail (SQLSTATE 55P03: the task
// retries later) instead of queueing the application's inserts behind it.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace celeriac::tasks::analytics {

struct partition_options {
  int months_ahead = 3;
  int retention_months = 13;
  std::chrono::milliseconds lock_timeout{10'000};
};

struct partition_report {
  std::vector<std::string> created;
  std::vector<std::string> dropped;
  std::int64_t moved_rows = 0;
};

// Throws std::runtime_error when no partitioned ai_interactions is on the
// connection's search path, pqxx errors from the server otherwise.
partition_report maintain_partitions(pqxx::connection& c, const partition_options& o);

// The SQLSTATE of a lock wait that hit lock_timeout.
inline constexpr const char* lock_not_available = "55P03";

}  // namespace celeriac::tasks::analytics
