#include "tasks/analytics/partition_plan.hpp"

#include <fmt/format.h>

namespace celeriac::tasks::analytics {
namespace {

bool overlaps(const existing_partition& p, std::int64_t from, std::int64_t to) {
  return (!p.from_epoch || *p.from_epoch < to) && (!p.to_epoch || from < *p.to_epoch);
}

}  // namespace

std::string monthly_partition_name(utc_month m) { return fmt::format("{}_{}", partitioned_table, m.suffix()); }

bool is_monthly_partition_name(std::string_view name) {
  const std::string prefix = fmt::format("{}_", partitioned_table);
  if (name.size() != prefix.size() + 7 || name.substr(0, prefix.size()) != prefix) return false;
  std::string month(name.substr(prefix.size()));
  if (month[4] != '_') return false;
  month[4] = '-';
  return utc_month::parse(month).has_value();
}

partition_plan plan_partitions(utc_month current, int months_ahead, int retention_months,
                               const std::vector<existing_partition>& existing) {
  partition_plan plan;
  for (int i = 0; i <= months_ahead; ++i) {
    const utc_month m = current.plus(i);
    const std::int64_t from = m.start_epoch(), to = m.plus(1).start_epoch();
    bool covered = false;
    for (const auto& p : existing) covered = covered || overlaps(p, from, to);
    if (!covered) plan.create.push_back(m);
  }
  const std::int64_t oldest_kept = current.plus(-retention_months).start_epoch();
  for (const auto& p : existing)
    if (is_monthly_partition_name(p.name) && p.to_epoch && *p.to_epoch <= oldest_kept) plan.drop.push_back(p);
  return plan;
}

}  // namespace celeriac::tasks::analytics
