#include "tasks/analytics/analytics_tasks.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <pqxx/except>

#include "app/args.hpp"
#include "app/task_error.hpp"
#include "tasks/analytics/calendar.hpp"
#include "tasks/analytics/daily_rollup.hpp"
#include "tasks/analytics/dashboard_stats.hpp"
#include "tasks/analytics/partitions.hpp"
#include "tasks/common/task_database.hpp"

namespace celeriac::tasks {
namespace {

using app::bound_args;

// A partition run that could not get its table locks tries again after this.
constexpr std::chrono::minutes partitions_lock_retry{5};

double rounded(double v, double per_unit) { return std::round(v * per_unit) / per_unit; }

json::value optional_number(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

// Runs f on the task's connection and adds how long it took.
template <class F>
json::value timed(app::task_context& ctx, F f) {
  return with_database_retry(ctx, [&] {
    const auto started = std::chrono::steady_clock::now();
    json::value out = f(task_connection(ctx));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    out.set("seconds", rounded(seconds, 1000.0));
    return out;
  });
}

json::value dashboard_stats(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args("dashboard_stats", args, kwargs, {}, 0);
  return timed(ctx, [](pqxx::connection& c) {
    const auto f = analytics::recompute_dashboard_stats(c);
    return json::value(json::object{{"total_mappings", f.total},
                                    {"approved_mappings", f.approved},
                                    {"pending_mappings", f.pending},
                                    {"mapped_mappings", f.mapped},
                                    {"failed_mappings", f.failed},
                                    {"avg_confidence", optional_number(f.avg_confidence)},
                                    {"unique_categories", f.unique_categories}});
  });
}

// The `day` argument, or nullopt for the default (yesterday).
std::optional<analytics::utc_day> day_arg(const bound_args& a) {
  if (!a.get(0) || a.get(0)->is_null()) return std::nullopt;
  const std::string& text = a.string(0);
  auto day = analytics::utc_day::parse(text);
  if (!day)
    throw app::task_error("ValueError", fmt::format("daily_rollup: day '{}' is not a date written YYYY-MM-DD (e.g. "
                                                    "\"2026-03-02\"); leave it out for yesterday in UTC",
                                                    text));
  return day;
}

json::value daily_rollup(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  const bound_args a("daily_rollup", args, kwargs, {"day"}, 0);
  const auto day = day_arg(a);
  return timed(ctx, [&](pqxx::connection& c) {
    const auto f = analytics::rollup_day(c, day ? *day : analytics::yesterday_utc(c));
    return json::value(json::object{{"day", f.day},
                                    {"created", f.created},
                                    {"mapped", f.mapped},
                                    {"approved", f.approved},
                                    {"failed", f.failed},
                                    {"avg_confidence", optional_number(f.avg_confidence)},
                                    {"llm_calls", f.llm_calls},
                                    {"tokens_in", f.tokens_in},
                                    {"tokens_out", f.tokens_out},
                                    {"cost_usd", rounded(f.cost_usd, 1e8)}});
  });
}

int months_arg(const bound_args& a, std::size_t i, const char* name, int fallback, int min) {
  if (!a.get(i) || a.get(i)->is_null()) return fallback;
  const std::int64_t v = a.integer(i);
  if (v < min || v > 1200)
    throw app::task_error("ValueError",
                          fmt::format("partitions: {} must be a whole number of months from {} to 1200, not {}", name,
                                      min, v));
  return static_cast<int>(v);
}

json::value partitions(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  const bound_args a("partitions", args, kwargs, {"months_ahead", "retention_months"}, 0);
  analytics::partition_options o;
  o.months_ahead = months_arg(a, 0, "months_ahead", o.months_ahead, 0);
  o.retention_months = months_arg(a, 1, "retention_months", o.retention_months, 1);
  return timed(ctx, [&](pqxx::connection& c) {
    analytics::partition_report r;
    try {
      r = analytics::maintain_partitions(c, o);
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != analytics::lock_not_available) throw;
      ctx.retry(partitions_lock_retry,
                fmt::format("partitions: ai_interactions stayed locked by another session for {} ms: {}",
                            o.lock_timeout.count(), e.what()));
    }
    json::array created(r.created.begin(), r.created.end()), dropped(r.dropped.begin(), r.dropped.end());
    return json::value(
        json::object{{"created", std::move(created)}, {"dropped", std::move(dropped)}, {"moved_rows", r.moved_rows}});
  });
}

}  // namespace

void register_analytics_tasks(app::task_registry& registry) {
  registry.add("celeriac.analytics.dashboard_stats", dashboard_stats, app::task_options{.max_retries = 3});
  registry.add("celeriac.analytics.daily_rollup", daily_rollup, app::task_options{.max_retries = 3});
  registry.add("celeriac.maintenance.partitions", partitions, app::task_options{.max_retries = 3});
}

}  // namespace celeriac::tasks
