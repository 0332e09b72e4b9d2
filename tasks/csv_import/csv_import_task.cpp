#include "tasks/csv_import/csv_import_task.hpp"

#include <chrono>
#include <cmath>

#include "app/task_error.hpp"
#include "tasks/csv_import/csv_importer.hpp"
#include "tasks/csv_import/import_request.hpp"

namespace celeriac::tasks {

namespace {

// A retry after PostgreSQL stayed away for the importer's whole reconnect
// budget waits this long before the next delivery tries again.
constexpr std::chrono::seconds database_retry_countdown{30};

json::value csv_import(app::task_context& ctx, const json::array& args, const json::object& kwargs) {
  const app::task_resources& resources = ctx.resources();
  importer_config cfg;
  cfg.request = parse_import_request(args, kwargs, resources);
  cfg.task_id = ctx.request().id;
  cfg.database_url = resources.database_url.value_or("");
  cfg.upload_dir = resources.upload_dir;
  cfg.on_progress = [&ctx](const import_progress& p) {
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
  } catch (const import_stopped& e) {
    throw app::task_error("RuntimeError", e.what());
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
  };
}

}  // namespace

void register_csv_import_task(app::task_registry& registry) {
  registry.add(csv_import_task_name, csv_import, app::task_options{.max_retries = 5});
}

}  // namespace celeriac::tasks
