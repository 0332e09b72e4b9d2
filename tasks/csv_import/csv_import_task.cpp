#include "tasks/csv_import/csv_import_task.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "app/task_error.hpp"
#include "tasks/csv_import/csv_importer.hpp"
#include "tasks/csv_import/import_request.hpp"
#include "util/log.hpp"

namespace celeriac::tasks {

namespace {

// A retry after PostgreSQL stayed away for the importer's whole reconnect
// budget waits this long before the next delivery tries again.
constexpr std::chrono::seconds database_retry_countdown{30};

// The import stopped at a chunk boundary because the task was asked to
// (soft time limit, revoke --terminate, cold shutdown): everything up to
// `last` is committed, and the checkpoint keyed by the task id lets the
// same task id resume there, exactly as after a kill. Throws what the
// context says the stop is (SoftTimeLimitExceeded, Terminated).
[[noreturn]] void stop_at_boundary(const app::task_context& ctx, const import_progress& last) {
  const std::string where = fmt::format(
      "stopped at {} with {} rows loaded and {} rejected, all committed; sending the task again with the same id "
      "resumes there",
      last.where.empty() ? fmt::format("line {} (byte {} of {})", last.line, last.bytes_done, last.bytes_total)
                         : last.where,
      last.rows_loaded, last.rows_rejected);
  log::warning("csv_import[{}]: {}", ctx.request().id, where);
  ctx.checkpoint(where);
  // Not reached: a stop the context no longer sees would be a bug there.
  throw app::task_error("RuntimeError", "celeriac.csv_import: " + where);
}

json::value csv_import(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  const app::task_resources& resources = ctx.resources();
  importer_config cfg;
  cfg.request = parse_import_request(args, kwargs, resources);
  cfg.task_id = ctx.request().id;
  cfg.database_url = resources.database_url.value_or("");
  cfg.upload_dir = resources.upload_dir;
  import_progress last;
  cfg.on_progress = [&ctx, &last](const import_progress& p) {
    last = p;
    ctx.progress(static_cast<std::int64_t>(p.bytes_done), static_cast<std::int64_t>(p.bytes_total), "bytes",
                 json::object{{"rows_loaded", static_cast<std::int64_t>(p.rows_loaded)},
                              {"rows_rejected", static_cast<std::int64_t>(p.rows_rejected)},
                              {"line", static_cast<std::int64_t>(p.line)}});
  };
  cfg.should_stop = [&ctx] { return ctx.should_stop(); };

  import_summary s;
  try {
    s = run_csv_import(cfg);
  } catch (const database_unavailable& e) {
    ctx.retry(database_retry_countdown, e.what());
  } catch (const import_stopped&) {
    stop_at_boundary(ctx, last);
  } catch (const app::soft_time_limit_exceeded&) {
    stop_at_boundary(ctx, last);  // from ctx.progress(), right after a commit
  }
  // Divided (not multiplied) back, so 2.276 prints as 2.276.
  auto rounded = [](double v, double per_unit) { return std::round(v * per_unit) / per_unit; };
  return json::object{
      {"rows_loaded", static_cast<std::int64_t>(s.rows_loaded)},
      {"rows_rejected", static_cast<std::int64_t>(s.rows_rejected)},
      {"seconds", rounded(s.seconds, 1000.0)},
      {"rows_per_second", rounded(s.rows_per_second, 1.0)},
      {"table", cfg.request.profile.table},
      {"mode", std::string(to_string(cfg.request.mode))},
      {"resumed", s.resumed},
      {"parts", static_cast<std::int64_t>(s.parts)},
  };
}

}  // namespace

void register_csv_import_task(app::task_registry& registry) {
  registry.add(csv_import_task_name, csv_import, app::task_options{.max_retries = 5});
}

}  // namespace celeriac::tasks
