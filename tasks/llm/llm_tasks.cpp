#include "tasks/llm/llm_tasks.hpp"

#include <cmath>

#include <fmt/format.h>

#include "app/args.hpp"
#include "app/task_error.hpp"
#include "tasks/common/task_database.hpp"
#include "tasks/llm/llm_settings.hpp"
#include "tasks/llm/merchant_lookup.hpp"
#include "tasks/llm/pending_mapper.hpp"

namespace celeriac::tasks {
namespace {

using app::bound_args;

std::size_t bounded_count(const bound_args& a, std::size_t i, const char* name, std::size_t fallback,
                          std::size_t max) {
  if (!a.get(i) || a.get(i)->is_null()) return fallback;
  std::int64_t v = a.integer(i);
  if (v < 1 || static_cast<std::uint64_t>(v) > max)
    throw app::task_error("ValueError", fmt::format("{} must be between 1 and {}, not {}", name, max, v));
  return static_cast<std::size_t>(v);
}

// The settings, narrowed to one provider when the call names one.
llm::llm_settings settings_for(const std::optional<std::string>& provider) {
  llm::llm_settings s = llm::current_llm_settings();
  if (!provider) return s;
  std::vector<llm::provider_config> only;
  std::string names;
  for (const auto& p : s.config.providers) {
    names += (names.empty() ? "" : ", ") + p.name;
    if (p.name == *provider) only.push_back(p);
  }
  if (only.empty())
    throw app::task_error("ValueError", fmt::format("no LLM provider is named '{}'; this worker has: {}", *provider,
                                                    names.empty() ? "none" : names));
  s.config.providers = std::move(only);
  return s;
}

double rounded(double v, double per_unit) { return std::round(v * per_unit) / per_unit; }

json::value map_pending(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args a("map_pending", args, kwargs, {"max_rows", "batch_size", "concurrency", "provider", "lease_seconds"},
               0);
  llm::map_pending_options o;
  o.max_rows = bounded_count(a, 0, "max_rows", o.max_rows, 10'000'000);
  o.batch_size = bounded_count(a, 1, "batch_size", o.batch_size, 1000);
  o.concurrency = bounded_count(a, 2, "concurrency", o.concurrency, 256);
  if (a.get(3) && !a.get(3)->is_null()) o.provider = a.string(3);
  const llm::llm_settings settings = settings_for(o.provider);
  o.lease = settings.config.claim_lease;
  if (a.get(4) && !a.get(4)->is_null()) {
    double secs = a.number(4);
    if (!(secs >= 1 && secs <= 86400)) throw app::task_error("ValueError", "lease_seconds must be between 1 and 86400");
    o.lease = std::chrono::milliseconds(std::llround(secs * 1000));
  }
  (void)task_connection(ctx);  // fails clearly without --database, retries while PostgreSQL is away

  const llm::map_pending_summary s =
      with_database_retry(ctx, [&] { return llm::run_map_pending(ctx, o, settings); });
  if (s.rows_remain) {
    // The backlog goes on past max_rows: hand over to a continuation now
    // rather than wait for the next beat tick.
    json::object next{{"max_rows", static_cast<std::int64_t>(o.max_rows)},
                      {"batch_size", static_cast<std::int64_t>(o.batch_size)},
                      {"concurrency", static_cast<std::int64_t>(o.concurrency)}};
    if (o.provider) next.emplace_back("provider", *o.provider);
    if (a.get(4) && !a.get(4)->is_null()) next.emplace_back("lease_seconds", *a.get(4));
    ctx.send_task_after(map_pending_task_name, {}, std::move(next));
  }
  return json::object{{"rows_mapped", s.rows_mapped},
                      {"rows_failed", s.rows_failed},
                      {"rows_deferred", s.rows_deferred},
                      {"cache_hits", s.cache_hits},
                      {"near_hits", s.near_hits},
                      {"near_skipped", s.near_skipped},
                      {"heuristic_rows", s.heuristic_rows},
                      {"keys_filled", s.keys_filled},
                      {"llm_calls", s.llm_calls},
                      {"tokens_in", s.tokens_in},
                      {"tokens_out", s.tokens_out},
                      {"cost_usd", rounded(s.cost_usd, 1e8)},
                      {"seconds", rounded(s.seconds, 1000.0)},
                      {"continued", s.rows_remain}};
}

json::value map_merchant(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args a("map_merchant", args, kwargs, {"name"}, 1);
  const std::string& name = a.string(0);
  if (name.find_first_not_of(" \t\r\n") == std::string::npos)
    throw app::task_error("ValueError", "the merchant name is empty");
  const llm::merchant_lookup_result r =
      with_database_retry(ctx, [&] { return llm::lookup_merchant(ctx, name, llm::current_llm_settings()); });
  return json::object{{"category", r.category},
                      {"ticker", r.ticker ? json::value(*r.ticker) : json::value(nullptr)},
                      {"confidence", r.confidence},
                      {"source", r.source}};
}

}  // namespace

void register_llm_tasks(app::task_registry& registry) {
  registry.add(map_pending_task_name, map_pending, app::task_options{.max_retries = 10});
  registry.add(map_merchant_task_name, map_merchant, app::task_options{.max_retries = 3});
}

}  // namespace celeriac::tasks
