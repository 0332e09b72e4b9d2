#include "tasks/analytics/analytics_tasks.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "app/args.hpp"
#include "app/task_error.hpp"
#include "tasks/analytics/daily_rollup.hpp"
#include "tasks/analytics/dashboard_stats.hpp"
#include "tasks/analytics/partitions.hpp"
#include "tasks/common/task_database.hpp"

namespace celeriac::tasks {
namespace {

using app::bound_args;

double rounded(double v, double per_unit) { return std::round(v * per_unit) / per_unit; }

json::value optional_number(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

// Runs f on the task's connection and adds how long it took.
template <class F>
json::value timed(app::task_context& ctx, F f) {
  return with_database_retry(ctx, [&] {
    const auto started = std::chrono::steady_clock::now();
    json::value out = f(task_connection(ctx));
    out.set("seconds", rounded(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                               1000.0));
    return out;
  });
}

json::value dashboard_stats(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args("dashboard_stats", args, kwargs, {}, 0);
  return timed(ctx, [](pqxx::connection& c) {
    auto f = analytics::recompute_dashboard_stats(c);
    return json::value(json::object{{"total_mappings", f.total},
                                    {"approved_mappings", f.approved},
                                    {"pending_mappings", f.pending},
                                    {"mapped_mappings", f.mapped},
                                    {"failed_mappings", f.failed},
                                    {"avg_confidence", optional_number(f.avg_confidence)},
                                    {"unique_categories", f.unique_categories}});
  });
}

bool valid_day(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (d[i] < '0' || d[i] > '9') return false;
  return true;
}

json::value daily_rollup(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args a("daily_rollup", args, kwargs, {"day"}, 0);
  std::optional<std::string> day;
  if (a.get(0) && !a.get(0)->is_null()) {
    day = a.string(0);
    if (!valid_day(*day)) throw app::task_error("ValueError", fmt::format("day '{}' is not a date YYYY-MM-DD", *day));
  }
  return timed(ctx, [&](pqxx::connection& c) {
    std::string d = day ? *day : analytics::yesterday_utc(c);
    analytics::daily_figures f;
    try {
      f = analytics::rollup_day(c, d);
    } catch (const pqxx::data_exception& e) {
      throw app::task_error("ValueError", fmt::format("day '{}' is not a date: {}", d, e.what()));
    }
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
  std::int64_t v = a.integer(i);
  if (v < min || v > 1200)
    throw app::task_error("ValueError", fmt::format("{} must be between {} and 1200, not {}", name, min, v));
  return static_cast<int>(v);
}

json::value partitions(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args a("partitions", args, kwargs, {"months_ahead", "retention_months"}, 0);
  const int ahead = months_arg(a, 0, "months_ahead", 3, 0);
  const int retention = months_arg(a, 1, "retention_months", 13, 1);
  return timed(ctx, [&](pqxx::connection& c) {
    auto r = analytics::maintain_partitions(c, ahead, retention);
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
