#include "tasks/csv_import/csv_importer.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "csv/byte_source.hpp"
#include "csv/reader.hpp"
#include "csv/split_points.hpp"
#include "csv/utf8.hpp"
#include "csv/validate.hpp"
#include "pg/conninfo.hpp"
#include "tasks/csv_import/csv_import_task.hpp"
#include "tasks/csv_import/db_link.hpp"
#include "tasks/csv_import/import_checkpoint.hpp"
#include "tasks/csv_import/import_sql.hpp"
#include "tasks/csv_import/part_loader.hpp"
#include "tasks/csv_import/target_check.hpp"
#include "tasks/csv_import/upload_file.hpp"
#include "util/log.hpp"

namespace celeriac::tasks {

namespace {

using steady = std::chrono::steady_clock;

// How the job is loaded: as one part (parts empty), or cut into parts.
struct layout {
  std::vector<part_checkpoint> parts;
  job_checkpoint job;                   // the job's row when the layout was read
  std::unique_ptr<pq_session> session;  // the open session, for the first part
};

// Parts this import asks for when it starts: an upsert keeps the last row
// of the file per key, which parts loading at once cannot promise.
std::size_t wanted_parts(const import_request& request) {
  return request.mode == import_mode::upsert ? 1 : std::max<std::size_t>(request.parallel, 1);
}

std::vector<csv::split_point> split_file(const upload_file& file, const file_identity& identity,
                                         const import_request& request, std::size_t parts) {
  csv::file_source src = file.source_at(0);
  return csv::find_split_points(src, identity.size, parts, request.delimiter);
}

class importer {
public:
  explicit importer(const importer_config& cfg)
      : cfg_(cfg),
        file_(upload_file::open(cfg.upload_dir, cfg.request.path)),
        sql_(build_import_sql(cfg.request)),
        job_{cfg, file_, sql_, file_.identity(),
             pg::with_default_param(pg::with_default_param(cfg.database_url, "connect_timeout", "10"),
                                    "application_name", "celeriac-csv-import")} {}

  import_summary run();

private:
  layout read_layout_();
  layout read_layout_once_(pq_session& db);
  // Loads the job's parts; false when a one-part load found the job cut
  // into parts meanwhile (read the layout again).
  bool load_(layout& l);
  void load_parts_(layout& l);
  void add_stats_(const part_stats& stats);
  import_summary finish_(const import_progress& end);
  void check_header_() const;
  bool stop_requested_() const { return cfg_.should_stop && cfg_.should_stop(); }

  const importer_config& cfg_;
  upload_file file_;
  import_sql sql_;
  import_job job_;
  bool table_checked_ = false;

  steady::time_point started_ = steady::now();
  std::optional<job_checkpoint> at_start_;  // the job's row when this call first read it
  import_summary summary_;
};

import_summary importer::run() {
  summary_.bytes = job_.identity.size;
  log::info("csv_import[{}]: importing {} ({} bytes) into {} ({})", cfg_.task_id, file_.real_path().string(),
            job_.identity.size, sql_.table_text, to_string(cfg_.request.mode));
  check_header_();
  for (;;) {
    layout l = read_layout_();
    if (load_(l)) break;
    log::info("csv_import[{}]: another delivery cut this job into parts; loading them", cfg_.task_id);
  }
  return summary_;
}

// The part that starts at byte 0 checks the header too, but parts after
// it may commit rows before it does: a file whose header does not match
// must load nothing, so it is refused before any part starts.
void importer::check_header_() const {
  if (!cfg_.request.header) return;
  csv::file_source src = file_.source_at(0);
  csv::reader_config rc;
  rc.delimiter = cfg_.request.delimiter;
  rc.buffer_bytes = 64 * 1024;
  csv::reader reader(src, rc);
  const csv::record* first = reader.next();
  if (!first || !first->is_header) return;
  if (auto ok = csv::check_header(*first, cfg_.request.profile); !ok)
    throw import_error("ValueError", ok.error().message);
}

layout importer::read_layout_() {
  db_link link(db_link_config{.conninfo = job_.conninfo,
                              .label = fmt::format("csv_import[{}]", cfg_.task_id),
                              .reconnect_budget = cfg_.reconnect_budget,
                              .should_stop = cfg_.should_stop,
                              .setup = [this](pq_session& db) {
                                prepare_load_session(db, cfg_.request, sql_);
                                if (!table_checked_) {
                                  check_target_table(db, sql_, cfg_.request.profile);
                                  table_checked_ = true;
                                }
                              }});
  for (;;) {
    try {
      layout l = read_layout_once_(link.session());
      l.session = link.release();
      return l;
    } catch (const pq_error& e) {
      link.drop();
      if (e.connection_lost()) {
        link.lost(e);
        continue;
      }
      if (e.transient()) continue;
      throw refused_statement(e, cfg_.request, sql_);
    } catch (...) {
      link.drop();
      throw;
    }
  }
}

layout importer::read_layout_once_(pq_session& db) {
  layout l;
  l.job = open_checkpoint(db, cfg_.task_id, job_.identity);
  if (l.job.part_count > 0) {
    l.parts = read_parts(db, cfg_.task_id);
  } else if (l.job.position.byte_offset == 0 && wanted_parts(cfg_.request) > 1) {
    const auto points = split_file(file_, job_.identity, cfg_.request, wanted_parts(cfg_.request));
    if (!points.empty()) l.parts = cut_into_parts(db, cfg_.task_id, points, job_.identity.size);
  }
  if (l.job.part_count > 0 && l.parts.size() != l.job.part_count)
    throw import_error("RuntimeError",
                       fmt::format("task {} is cut into {} parts but celeriac_import_parts holds {}; is something "
                                   "deleting its rows?",
                                   cfg_.task_id, l.job.part_count, l.parts.size()));
  if (!at_start_) at_start_ = l.job;
  return l;
}

bool importer::load_(layout& l) {
  if (l.parts.empty()) {
    // One part: the whole file, on this thread, moving the job's own row.
    progress_board board(job_.identity.size, {part_range{0, job_.identity.size}}, {l.job.position},
                         cfg_.on_progress);
    part_loader part(job_, part_plan{.slot = {cfg_.task_id, std::nullopt}, .end_offset = job_.identity.size}, board,
                     cfg_.should_stop, std::move(l.session));
    const part_outcome outcome = part.run();
    add_stats_(part.stats());
    if (outcome == part_outcome::cut_meanwhile) return false;
    summary_ = finish_(board.totals());
    return true;
  }
  load_parts_(l);
  return true;
}

void importer::load_parts_(layout& l) {
  const std::size_t n = l.parts.size();
  std::vector<part_range> ranges;
  std::vector<import_checkpoint> at;
  for (const part_checkpoint& p : l.parts) {
    ranges.push_back(part_range{p.start_offset, p.end_offset});
    at.push_back(p.at);
  }
  progress_board board(job_.identity.size, std::move(ranges), std::move(at), cfg_.on_progress);

  // The first part to fail (or to be told to stop) records why and stops
  // the others at their next chunk boundary; their own stops are not news.
  std::atomic<bool> abort{false};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto stop = [this, &abort] { return abort.load(std::memory_order_relaxed) || stop_requested_(); };

  std::vector<std::unique_ptr<part_loader>> loaders;
  for (const part_checkpoint& p : l.parts) {
    part_plan plan{.slot = {cfg_.task_id, p.part},
                   .index = p.part,
                   .count = n,
                   .start_offset = p.start_offset,
                   .start_line = p.start_line,
                   .end_offset = p.end_offset};
    loaders.push_back(std::make_unique<part_loader>(job_, std::move(plan), board, stop,
                                                    p.part == 0 ? std::move(l.session) : nullptr));
  }
  log::info("csv_import[{}]: loading {} parts at once", cfg_.task_id, n);
  std::vector<std::thread> threads;
  auto run_part = [&](part_loader& part) {
    log::task_scope scope(csv_import_task_name, cfg_.task_id);
    try {
      part.run();  // a part never finds its job cut again
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!abort.exchange(true)) failure = std::current_exception();
    }
  };
  try {
    for (auto& loader : loaders) threads.emplace_back(run_part, std::ref(*loader));
  } catch (...) {
    abort = true;  // no thread: stop the ones started, then say why
    for (std::thread& t : threads) t.join();
    throw;
  }
  for (std::thread& t : threads) t.join();

  for (const auto& loader : loaders) add_stats_(loader->stats());
  if (failure) std::rethrow_exception(failure);
  summary_.parts = static_cast<std::uint32_t>(n);
  summary_ = finish_(board.totals());
}

void importer::add_stats_(const part_stats& stats) {
  summary_.chunks += stats.chunks;
  summary_.lost_races += stats.lost_races;
  summary_.reconnects += stats.reconnects;
  summary_.resumed = summary_.resumed || stats.resumed;
}

import_summary importer::finish_(const import_progress& end) {
  import_summary s = summary_;
  const job_checkpoint& start = *at_start_;
  const std::uint64_t start_loaded = start.position.rows_done;
  const std::uint64_t start_total = start.position.rows_done + start.position.rows_rejected;
  s.rows_loaded = end.rows_loaded;
  s.rows_rejected = end.rows_rejected;
  s.rows_loaded_now = end.rows_loaded - std::min(end.rows_loaded, start_loaded);
  s.seconds = std::chrono::duration<double>(steady::now() - started_).count();
  const std::uint64_t total = end.rows_loaded + end.rows_rejected;
  const std::uint64_t handled = total - std::min(total, start_total);
  s.rows_per_second = s.seconds > 0 ? static_cast<double>(handled) / s.seconds : 0.0;
  log::info("csv_import[{}]: done: {} rows loaded, {} rejected, {:.1f} s, {:.0f} rows/s{}{}", cfg_.task_id,
            s.rows_loaded, s.rows_rejected, s.seconds, s.rows_per_second,
            s.parts > 1 ? fmt::format(" in {} parts", s.parts) : "", s.resumed ? " (resumed)" : "");
  return s;
}

}  // namespace

import_summary run_csv_import(const importer_config& config) {
  if (config.task_id.empty() || config.task_id.find('\0') != std::string::npos ||
      csv::find_invalid_utf8(config.task_id) != std::string_view::npos)
    throw import_error("ValueError", "the task id must be non-empty UTF-8 text without NUL bytes");
  if (config.database_url.empty())
    throw import_error("RuntimeError",
                       "this worker has no database; start it with --database URL (or CELERIAC_DATABASE_URL)");
  importer imp(config);
  return imp.run();
}

}  // namespace celeriac::tasks
