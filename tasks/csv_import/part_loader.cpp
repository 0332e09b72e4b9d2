#include "tasks/csv_import/part_loader.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "tasks/csv_import/import_failures.hpp"
#include "util/log.hpp"

namespace celeriac::tasks {

namespace {

std::string part_label(const std::string& task_id, const part_plan& plan) {
  if (plan.count <= 1) return fmt::format("csv_import[{}]", task_id);
  return fmt::format("csv_import[{}] part {}/{}", task_id, plan.index + 1, plan.count);
}

}  // namespace

void prepare_load_session(pq_session& db, const import_request& request, const import_sql& sql) {
  // A chunk's commit need not wait for its WAL to reach disk: its rows and
  // its checkpoint are lost or kept together, and the part's last step
  // makes the end durable. This saves a WAL flush per chunk.
  db.exec("SET synchronous_commit TO off");
  if (request.mode == import_mode::upsert) {
    db.exec(sql.create_stage);
    // On the empty stage this only plans the statement: a missing unique
    // index for the key shows up now, before any row is read.
    db.exec(sql.apply_stage);
  }
}

app::task_error refused_statement(const pq_error& e, const import_request& request, const import_sql& sql) {
  if (e.sqlstate() == "42P10")
    return import_error("ValueError",
                        fmt::format("mode 'upsert' needs a unique index or constraint on exactly ({}) of table {}; "
                                    "create one (CREATE UNIQUE INDEX ON {} ({})) or import with mode 'insert'",
                                    fmt::join(request.profile.key_columns, ", "), sql.table_text, sql.table_text,
                                    fmt::join(request.profile.key_columns, ", ")));
  return import_error("RuntimeError", fmt::format("the database refused a statement: {}", e.what()));
}

part_loader::part_loader(const import_job& job, part_plan plan, progress_board& board,
                         std::function<bool()> should_stop, std::unique_ptr<pq_session> session)
    : job_(job),
      plan_(std::move(plan)),
      board_(board),
      should_stop_(std::move(should_stop)),
      label_(part_label(job.config.task_id, plan_)),
      link_(db_link_config{.conninfo = job.conninfo,
                           .label = label_,
                           .reconnect_budget = job.config.reconnect_budget,
                           .should_stop = should_stop_,
                           .setup = [&job](pq_session& db) {
                             prepare_load_session(db, job.config.request, job.sql);
                           }},
            std::move(session)),
      loader_(job.config.request, job.sql, plan_.slot, job.file,
              job.config.before_commit ? std::function<void()>([&job, index = plan_.index] {
                job.config.before_commit(index);
              })
                                       : std::function<void()>()) {}

part_outcome part_loader::run() {
  const import_request& request = job_.config.request;
  for (;;) {
    try {
      pq_session& db = link_.session();
      check_file_();
      std::optional<import_checkpoint> read = read_position_(db);
      if (!read) return part_outcome::cut_meanwhile;
      import_checkpoint cp = *read;
      if (first_read_) {
        first_read_ = false;
        stats_.resumed = cp.byte_offset > plan_.start_offset;
        if (stats_.resumed)
          log::info("{}: resuming at line {} (byte {}): {} rows loaded, {} rejected before", label_, cp.line_number,
                    cp.byte_offset, cp.rows_done, cp.rows_rejected);
      }
      board_.post(plan_.index, cp);
      check_rejections_(cp);
      if (cp.byte_offset >= plan_.end_offset) return finish_(db);
      open_reader_(cp);
      for (;;) {
        if (stop_requested_())
          throw import_stopped(fmt::format("celeriac.csv_import: stopped at line {} as asked (soft time limit, "
                                           "revoke or shutdown); a new delivery resumes there",
                                           cp.line_number));
        check_file_();
        const chunk_result r = loader_.load(db, *reader_, cp, board_.rejected_outside(plan_.index));
        if (r.status == chunk_status::lost_race) {
          ++stats_.lost_races;
          log::info("{}: another delivery of this job loaded the chunk at line {} first; going on from its "
                    "checkpoint",
                    label_, cp.line_number);
          break;  // re-read the checkpoint
        }
        if (r.status == chunk_status::nothing_left) return finish_(db);
        cp = r.checkpoint;
        note_commit_(r);
        board_.post(plan_.index, cp);
        if (job_.config.after_commit && plan_.count == 1) {
          import_summary s;
          s.rows_loaded = cp.rows_done;
          s.rows_rejected = cp.rows_rejected;
          s.chunks = stats_.chunks;
          s.lost_races = stats_.lost_races;
          s.reconnects = link_.reconnects();
          s.resumed = stats_.resumed;
          s.bytes = job_.identity.size;
          job_.config.after_commit(s);
        }
        if (job_.config.after_part_commit) job_.config.after_part_commit(plan_.index, stats_.chunks);
        check_rejections_(cp);
        if (r.at_end) return finish_(db);
      }
    } catch (const pq_error& e) {
      link_.drop();
      if (e.connection_lost()) {
        link_.lost(e);
        continue;
      }
      if (e.transient()) continue;  // deadlock or serialization failure: that chunk again
      throw refused_statement(e, request, job_.sql);
    } catch (...) {
      link_.drop();  // it may be in the middle of a COPY
      throw;
    }
  }
}

std::optional<import_checkpoint> part_loader::read_position_(pq_session& db) {
  if (plan_.slot.part) return read_part(db, plan_.slot.task_id, *plan_.slot.part);
  const job_checkpoint jc = open_checkpoint(db, plan_.slot.task_id, job_.identity);
  if (jc.part_count > 0) return std::nullopt;
  return jc.position;
}

void part_loader::note_commit_(const chunk_result& r) {
  ++stats_.chunks;
  link_.healthy();
  if (r.server_rejected > 0)
    log::info("{}: the database refused {} row(s) of the chunk ending at line {}; recorded as errors", label_,
              r.server_rejected, r.checkpoint.line_number);
}

part_outcome part_loader::finish_(pq_session& db) {
  // Chunks commit without waiting for the WAL flush; this synchronous
  // commit flushes everything before it, so the part is durable before the
  // job reports success. (A crash before this loses whole chunks together
  // with their checkpoint: a resume redoes them.)
  flush_checkpoint(db, plan_.slot);
  return part_outcome::done;
}

void part_loader::open_reader_(const import_checkpoint& cp) {
  const import_request& request = job_.config.request;
  reader_.reset();
  source_.reset();
  file_source_.reset();
  file_source_.emplace(job_.file.source_at(cp.byte_offset));
  source_.emplace(*file_source_, plan_.end_offset - cp.byte_offset);
  csv::reader_config rc;
  rc.delimiter = request.delimiter;
  rc.header = request.header;
  rc.start_offset = cp.byte_offset;
  rc.start_line = std::max<std::uint64_t>(cp.line_number, 1);
  // A header read now sets the count and is checked by name; otherwise the
  // columns do, which a header (checked before any part started) matches.
  rc.field_count = request.header && cp.byte_offset == 0 ? 0 : request.profile.columns.size();
  rc.field_count_from_header = request.header;
  reader_ = std::make_unique<csv::reader>(*source_, rc);
}

void part_loader::check_rejections_(const import_checkpoint& cp) const {
  const import_progress job = board_.totals();
  const std::uint64_t max_errors = job_.config.request.max_errors;
  if (job.rows_rejected <= max_errors) return;
  throw import_error(
      "ValueError",
      fmt::format("{} rows rejected, more than max_errors={}; stopped at line {} after loading {} rows (they stay "
                  "loaded). The rejected rows and their reasons are in celeriac_import_errors "
                  "(task_id = '{}')",
                  job.rows_rejected, max_errors, cp.line_number, job.rows_loaded, job_.config.task_id));
}

void part_loader::check_file_() const {
  const file_identity now = job_.file.identity();
  if (now == job_.identity) return;
  throw import_error("RuntimeError",
                     fmt::format("{} changed during the import (it was {} bytes, it is now {} bytes or has a new "
                                 "modification time): the rest would not match the checkpoint. Import the new file "
                                 "under a new task id",
                                 job_.file.real_path().string(), job_.identity.size, now.size));
}

}  // namespace celeriac::tasks
