#include "tasks/csv_import/csv_importer.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "app/task_error.hpp"
#include "csv/byte_source.hpp"
#include "csv/reader.hpp"
#include "csv/utf8.hpp"
#include "pg/conninfo.hpp"
#include "tasks/csv_import/chunk_loader.hpp"
#include "tasks/csv_import/import_checkpoint.hpp"
#include "tasks/csv_import/import_sql.hpp"
#include "tasks/csv_import/pq_session.hpp"
#include "tasks/csv_import/target_check.hpp"
#include "tasks/csv_import/upload_file.hpp"
#include "util/log.hpp"

namespace celeriac::tasks {

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds backoff_initial{250};
constexpr milliseconds backoff_max{5'000};

app::task_error import_error(std::string_view exc_type, const std::string& message) {
  return app::task_error(std::string(exc_type), "celeriac.csv_import: " + message);
}

class importer {
public:
  explicit importer(const importer_config& cfg)
      : cfg_(cfg),
        request_(cfg.request),
        file_(upload_file::open(cfg.upload_dir, cfg.request.path)),
        sql_(build_import_sql(cfg.request)),
        loader_(request_, sql_, cfg.task_id, file_),
        conninfo_(pg::with_default_param(pg::with_default_param(cfg.database_url, "connect_timeout", "10"),
                                         "application_name", "celeriac-csv-import")) {}

  import_summary run();

private:
  void connect_();
  void setup_session_();
  void open_reader_(const import_checkpoint& cp);
  void report_(const import_checkpoint& cp) const;
  void check_rejections_(const import_checkpoint& cp) const;
  void check_file_(const file_identity& expected) const;
  void check_budget_(const std::string& why);
  void pause_(milliseconds how_long) const;
  bool stop_requested_() const { return cfg_.should_stop && cfg_.should_stop(); }
  import_summary finish_(const import_checkpoint& cp);

  const importer_config& cfg_;
  const import_request& request_;
  upload_file file_;
  import_sql sql_;
  chunk_loader loader_;
  std::string conninfo_;

  std::unique_ptr<pq_session> db_;
  std::optional<csv::file_source> source_;
  std::unique_ptr<csv::reader> reader_;  // reads source_
  bool table_checked_ = false;
  std::optional<steady::time_point> down_since_;
  milliseconds backoff_ = backoff_initial;

  steady::time_point started_ = steady::now();
  file_identity identity_;
  std::uint64_t start_loaded_ = 0;
  std::uint64_t start_total_ = 0;
  import_summary summary_;
};

import_summary importer::run() {
  identity_ = file_.identity();
  summary_.bytes = identity_.size;
  bool first = true;
  log::info("csv_import[{}]: importing {} ({} bytes) into {} ({})", cfg_.task_id, file_.real_path().string(),
            identity_.size, sql_.table_text, to_string(request_.mode));
  for (;;) {
    try {
      connect_();
      check_file_(identity_);
      import_checkpoint cp = open_checkpoint(*db_, cfg_.task_id, identity_);
      if (first) {
        first = false;
        summary_.resumed = cp.byte_offset > 0;
        start_loaded_ = cp.rows_done;
        start_total_ = cp.rows_done + cp.rows_rejected;
        if (summary_.resumed)
          log::info("csv_import[{}]: resuming at line {} (byte {}): {} rows loaded, {} rejected before", cfg_.task_id,
                    cp.line_number, cp.byte_offset, cp.rows_done, cp.rows_rejected);
      }
      report_(cp);
      check_rejections_(cp);
      open_reader_(cp);
      for (;;) {
        if (stop_requested_())
          throw import_stopped(fmt::format("celeriac.csv_import: stopped at line {} as asked (soft time limit, "
                                           "revoke or shutdown); a new delivery resumes there",
                                           cp.line_number));
        check_file_(identity_);
        const chunk_result r = loader_.load(*db_, *reader_, cp);
        if (r.status == chunk_status::lost_race) {
          ++summary_.lost_races;
          log::info("csv_import[{}]: another delivery of this job loaded the chunk at line {} first; going on from "
                    "its checkpoint",
                    cfg_.task_id, cp.line_number);
          break;  // re-read the checkpoint
        }
        if (r.status == chunk_status::nothing_left) return finish_(cp);
        cp = r.checkpoint;
        ++summary_.chunks;
        down_since_.reset();
        backoff_ = backoff_initial;
        if (r.server_rejected > 0)
          log::info("csv_import[{}]: the database refused {} row(s) of the chunk ending at line {}; recorded as errors",
                    cfg_.task_id, r.server_rejected, cp.line_number);
        report_(cp);
        if (cfg_.after_commit) {
          summary_.rows_loaded = cp.rows_done;
          summary_.rows_rejected = cp.rows_rejected;
          cfg_.after_commit(summary_);
        }
        check_rejections_(cp);
        if (r.at_end) return finish_(cp);
      }
    } catch (const pq_error& e) {
      db_.reset();
      if (e.connection_lost()) {
        ++summary_.reconnects;
        if (!down_since_) {
          down_since_ = steady::now();
          log::warning("csv_import[{}]: lost the database connection ({}); reconnecting and resuming from the "
                       "checkpoint",
                       cfg_.task_id, e.what());
        }
        check_budget_(e.what());
        continue;
      }
      if (e.transient()) continue;  // deadlock or serialization failure: that chunk again
      if (e.sqlstate() == "42P10")
        throw import_error("ValueError",
                           fmt::format("mode 'upsert' needs a unique index or constraint on exactly ({}) of table {}; "
                                       "create one (CREATE UNIQUE INDEX ON {} ({})) or import with mode 'insert'",
                                       fmt::join(request_.profile.key_columns, ", "), sql_.table_text, sql_.table_text,
                                       fmt::join(request_.profile.key_columns, ", ")));
      throw import_error("RuntimeError", fmt::format("the database refused a statement: {}", e.what()));
    } catch (...) {
      db_.reset();  // it may be in the middle of a COPY
      throw;
    }
  }
}

import_summary importer::finish_(const import_checkpoint& cp) {
  // Chunks commit without waiting for the WAL flush; this synchronous
  // commit flushes everything before it, so the job is durable before it
  // reports success. (A crash before this loses whole chunks together
  // with their checkpoint: a resume redoes them.)
  db_->exec("SET synchronous_commit TO on");
  db_->exec_params("UPDATE celeriac_import_checkpoints SET updated_at = now() WHERE task_id = $1", {cfg_.task_id});
  summary_.rows_loaded = cp.rows_done;
  summary_.rows_rejected = cp.rows_rejected;
  summary_.rows_loaded_now = cp.rows_done - std::min(cp.rows_done, start_loaded_);
  summary_.seconds = std::chrono::duration<double>(steady::now() - started_).count();
  const std::uint64_t handled = cp.rows_done + cp.rows_rejected - std::min(cp.rows_done + cp.rows_rejected, start_total_);
  summary_.rows_per_second = summary_.seconds > 0 ? static_cast<double>(handled) / summary_.seconds : 0.0;
  log::info("csv_import[{}]: done: {} rows loaded, {} rejected, {:.1f} s, {:.0f} rows/s{}", cfg_.task_id,
            summary_.rows_loaded, summary_.rows_rejected, summary_.seconds, summary_.rows_per_second,
            summary_.resumed ? " (resumed)" : "");
  return summary_;
}

void importer::connect_() {
  while (!db_ || !db_->usable()) {
    db_.reset();
    try {
      db_ = std::make_unique<pq_session>(conninfo_);
      setup_session_();
      return;
    } catch (const pq_error& e) {
      db_.reset();
      if (!e.connection_lost()) throw;
      if (!down_since_) {
        down_since_ = steady::now();
        log::warning("csv_import[{}]: {}; retrying", cfg_.task_id, e.what());
      }
      check_budget_(e.what());
      pause_(backoff_);
      backoff_ = std::min(backoff_ * 2, backoff_max);
    }
  }
}

void importer::setup_session_() {
  // A chunk's commit need not wait for its WAL to reach disk: its rows and
  // its checkpoint are lost or kept together, and finish_() makes the end
  // durable. This saves a WAL flush per chunk.
  db_->exec("SET synchronous_commit TO off");
  if (!table_checked_) {
    check_target_table(*db_, sql_, request_.profile);
    table_checked_ = true;
  }
  if (request_.mode == import_mode::upsert) {
    db_->exec(sql_.create_stage);
    // On the empty stage this only plans the statement: a missing unique
    // index for the key shows up now, before any row is read.
    db_->exec(sql_.apply_stage);
  }
}

void importer::check_budget_(const std::string& why) {
  if (down_since_ && steady::now() - *down_since_ > cfg_.reconnect_budget)
    throw database_unavailable(fmt::format(
        "celeriac.csv_import: PostgreSQL has been unavailable for over {} s ({}); the rows committed so far are "
        "kept and a retry resumes from the checkpoint",
        std::chrono::duration_cast<std::chrono::seconds>(cfg_.reconnect_budget).count(), why));
}

void importer::pause_(milliseconds how_long) const {
  const auto until = steady::now() + how_long;
  while (steady::now() < until) {
    if (stop_requested_())
      throw import_stopped("celeriac.csv_import: stopped as asked while waiting for the database");
    std::this_thread::sleep_for(std::min<steady::duration>(until - steady::now(), milliseconds(50)));
  }
}

void importer::open_reader_(const import_checkpoint& cp) {
  reader_.reset();
  source_.reset();
  auto src = csv::file_source::open(file_.reopen_path(), cp.byte_offset);
  if (!src)
    throw import_error("OSError",
                       fmt::format("cannot read {} at byte {}: {}", file_.real_path().string(), cp.byte_offset,
                                   src.error().message));
  source_.emplace(std::move(*src));
  csv::reader_config rc;
  rc.delimiter = request_.delimiter;
  rc.header = request_.header;
  rc.start_offset = cp.byte_offset;
  rc.start_line = std::max<std::uint64_t>(cp.line_number, 1);
  // A header read now sets the count and is checked by name; otherwise the
  // columns do.
  rc.field_count = request_.header && cp.byte_offset == 0 ? 0 : request_.profile.columns.size();
  reader_ = std::make_unique<csv::reader>(*source_, rc);
}

void importer::report_(const import_checkpoint& cp) const {
  if (!cfg_.on_progress) return;
  cfg_.on_progress(import_progress{cp.byte_offset, identity_.size, cp.rows_done, cp.rows_rejected, cp.line_number});
}

void importer::check_rejections_(const import_checkpoint& cp) const {
  if (cp.rows_rejected <= request_.max_errors) return;
  throw import_error(
      "ValueError",
      fmt::format("{} rows rejected, more than max_errors={}; stopped at line {} after loading {} rows (they stay "
                  "loaded). The rejected rows and their reasons are in celeriac_import_errors "
                  "(task_id = '{}')",
                  cp.rows_rejected, request_.max_errors, cp.line_number, cp.rows_done, cfg_.task_id));
}

void importer::check_file_(const file_identity& expected) const {
  const file_identity now = file_.identity();
  if (now == expected) return;
  throw import_error("RuntimeError",
                     fmt::format("{} changed during the import (it was {} bytes, it is now {} bytes or has a new "
                                 "modification time): the rest would not match the checkpoint. Import the new file "
                                 "under a new task id",
                                 file_.real_path().string(), expected.size, now.size));
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
