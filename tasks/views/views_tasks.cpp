#include "tasks/views/views_tasks.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "app/args.hpp"
#include "app/task_error.hpp"
#include "tasks/common/task_database.hpp"
#include "tasks/views/view_catalog.hpp"
#include "tasks/views/view_refresher.hpp"

namespace celeriac::tasks {
namespace {

using app::bound_args;

std::optional<double> seconds_arg(const bound_args& a, std::size_t i, const char* name) {
  if (!a.get(i) || a.get(i)->is_null()) return std::nullopt;
  double v = a.number(i);
  if (!(v > 0 && v <= 86400))
    throw app::task_error("ValueError",
                          fmt::format("{} must be more than 0 and at most 86400 seconds, not {}", name, v));
  return v;
}

bool bool_arg(const bound_args& a, std::size_t i, const char* name, bool fallback) {
  const json::value* v = a.get(i);
  if (!v || v->is_null()) return fallback;
  if (!v->is_bool()) throw app::type_error(fmt::format("{} must be true or false", name));
  return v->as_bool();
}

double rounded(double v) { return std::round(v * 1000.0) / 1000.0; }

json::value to_json(const views::refresh_result& r) {
  return json::object{{"view", r.view}, {"mode", r.mode}, {"seconds", rounded(r.seconds)}, {"rows", r.rows}};
}

// Runs f: a refresh that ran out of time is a TimeoutError (Python's name
// for it, so a Celery caller can catch it; the task is not retried — the
// caller chose the timeout), a view dropped meanwhile a ValueError, a lost
// connection a retry.
template <class F>
json::value guarded(app::task_context& ctx, F f) {
  return with_database_retry(ctx, [&] {
    try {
      return json::value(f());
    } catch (const views::refresh_timeout& e) {
      throw app::task_error("TimeoutError", e.what());
    } catch (const views::view_dropped& e) {
      throw app::task_error("ValueError", e.what());
    }
  });
}

json::value refresh(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args a("refresh", args, kwargs, {"view", "concurrently", "lock_timeout", "statement_timeout"}, 1);
  if (!a.get(0)->is_string()) throw app::type_error("view must be a string naming a materialized view");
  const std::string& name = a.string(0);
  views::refresh_options o;
  o.concurrently = bool_arg(a, 1, "concurrently", true);
  o.lock_timeout_seconds = seconds_arg(a, 2, "lock_timeout");
  o.statement_timeout_seconds = seconds_arg(a, 3, "statement_timeout");
  return guarded(ctx, [&] {
    pqxx::connection& c = task_connection(ctx);
    auto view = name.empty() ? std::nullopt : views::find_view(c, name);
    if (!view)
      throw app::task_error("ValueError",
                            fmt::format("'{}' is not a materialized view in this database (looked up in "
                                        "pg_matviews as SQL would read the name: 'view' on the search path "
                                        "or 'schema.view', double-quoted where it has capitals or spaces)",
                                        name));
    return to_json(views::refresh_view(c, *view, o));
  });
}

json::value refresh_all(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args a("refresh_all", args, kwargs, {"concurrently", "lock_timeout", "statement_timeout"}, 0);
  views::refresh_options o;
  o.concurrently = bool_arg(a, 0, "concurrently", true);
  o.lock_timeout_seconds = seconds_arg(a, 1, "lock_timeout");
  o.statement_timeout_seconds = seconds_arg(a, 2, "statement_timeout");
  return guarded(ctx, [&] {
    const auto started = std::chrono::steady_clock::now();
    pqxx::connection& c = task_connection(ctx);
    auto all = views::celeriac_views_in_order(c);
    json::array done;
    for (std::size_t i = 0; i < all.size(); ++i) {
      ctx.progress(static_cast<std::int64_t>(i), static_cast<std::int64_t>(all.size()), "views");
      done.push_back(to_json(views::refresh_view(c, all[i], o)));
    }
    ctx.progress(static_cast<std::int64_t>(all.size()), static_cast<std::int64_t>(all.size()), "views");
    return json::value(json::object{
        {"views", std::move(done)},
        {"seconds", rounded(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count())}});
  });
}

}  // namespace

void register_views_tasks(app::task_registry& registry) {
  registry.add("celeriac.views.refresh", refresh, app::task_options{.max_retries = 5});
  registry.add("celeriac.views.refresh_all", refresh_all, app::task_options{.max_retries = 5});
}

}  // namespace celeriac::tasks
