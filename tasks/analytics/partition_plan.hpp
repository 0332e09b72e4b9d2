#pragma once
// What celeriac.maintenance.partitions should do to ai_interactions, decided
// from the partitions that exist (pure; partitions.cpp reads the catalog and
// runs the DDL).
//
// Monthly partitions are named ai_interactions_YYYY_MM and cover one UTC
// month [first instant, next month's first instant).
//   create  every month from `current` to `current + months_ahead` that no
//           existing range partition overlaps (whatever its name: an
//           application's own partition is respected, not collided with)
//   drop    partitions with a monthly name whose range ends at or before the
//           first instant of `current - retention_months`; a partition with
//           any other name, or with an upper bound of MAXVALUE, is kept

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/analytics/calendar.hpp"

namespace celeriac::tasks::analytics {

inline constexpr std::string_view partitioned_table = "ai_interactions";

// One range partition of ai_interactions (never the DEFAULT one), its
// bounds in seconds since the epoch; nullopt is MINVALUE / MAXVALUE.
struct existing_partition {
  std::string schema;
  std::string name;
  std::optional<std::int64_t> from_epoch;
  std::optional<std::int64_t> to_epoch;
};

struct partition_plan {
  std::vector<utc_month> create;            // in month order
  std::vector<existing_partition> drop;     // in the order given
};

// "ai_interactions_2026_03"
std::string monthly_partition_name(utc_month m);

// True for names monthly_partition_name() can produce.
bool is_monthly_partition_name(std::string_view name);

// months_ahead >= 0, retention_months >= 1 (checked by the task).
partition_plan plan_partitions(utc_month current, int months_ahead, int retention_months,
                               const std::vector<existing_partition>& existing);

}  // namespace celeriac::tasks::analytics
