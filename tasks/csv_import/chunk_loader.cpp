#include "tasks/csv_import/chunk_loader.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "app/task_error.hpp"
#include "pg/sql_text.hpp"

namespace celeriac::tasks {

namespace {

// Parsed rows go to the server whenever this much has been encoded, so the
// server loads while the next rows are parsed.
constexpr std::size_t send_bytes = 64 * 1024;

std::string_view without_terminator(std::string_view raw) {
  if (!raw.empty() && raw.back() == '\n') raw.remove_suffix(1);
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  return raw;
}

std::string clean_text(std::string text) {
  pg::sanitize_utf8(text);
  pg::truncate_utf8(text, max_reason_bytes);
  return text;
}

}  // namespace

chunk_loader::chunk_loader(const import_request& request, const import_sql& sql, const checkpoint_slot& slot,
                           const upload_file& file, std::function<void()> before_commit)
    : request_(request), sql_(sql), slot_(slot), file_(file), before_commit_(std::move(before_commit)) {}

void chunk_loader::reset_() {
  encoder_.clear();
  good_.clear();
  bad_.clear();
  server_rejected_ = 0;
}

std::string chunk_loader::raw_prefix_(std::string_view raw) const {
  return std::string(raw.substr(0, std::min(raw.size(), max_raw_record_bytes)));
}

void chunk_loader::add_bad_(const csv::record& rec, const csv::field_error& e) {
  bad_row b;
  b.line = rec.line;
  if (e.column != csv::field_error::record_column && e.column < request_.profile.columns.size())
    b.column = request_.profile.columns[e.column].name;
  b.reason = clean_text(e.reason);
  b.raw = raw_prefix_(rec.raw);
  bad_.push_back(std::move(b));
}

chunk_result chunk_loader::load(pq_session& db, csv::reader& reader, const import_checkpoint& from,
                                std::uint64_t rejected_elsewhere) {
  reset_();
  chunk_result out;
  db.exec("BEGIN");
  if (lock_checkpoint(db, slot_) != from.byte_offset) {
    db.exec("ROLLBACK");
    out.status = chunk_status::lost_race;
    return out;
  }

  // Stream the chunk's rows as they are parsed.
  const bool upsert = request_.mode == import_mode::upsert;
  db.exec("SAVEPOINT chunk_rows");
  db.copy_begin(sql_.copy_rows);
  encoder_.write_header();
  std::size_t sent = 0;
  std::size_t records = 0;
  while (records < request_.chunk_rows) {
    const csv::record* rec = reader.next();
    if (!rec) {
      out.at_end = true;
      break;
    }
    if (rec->is_header) {
      if (auto ok = csv::check_header(*rec, request_.profile); !ok)
        throw app::task_error("ValueError", "celeriac.csv_import: " + ok.error().message);
      continue;
    }
    ++records;
    if (auto valid = csv::validate(*rec, request_.profile, values_)) {
      const std::size_t begin = encoder_.size();
      if (upsert) values_.push_back(static_cast<std::int64_t>(good_.size()));
      encoder_.write_row(values_);
      good_.push_back(good_row{rec->line, rec->offset, rec->end_offset, begin, encoder_.size()});
    } else {
      add_bad_(*rec, valid.error());
      if (rejected_elsewhere + from.rows_rejected + bad_.size() > request_.max_errors) break;
    }
    if (encoder_.size() - sent >= send_bytes) {
      db.copy_send(encoder_.bytes().substr(sent));
      sent = encoder_.size();
    }
  }
  encoder_.write_trailer();
  db.copy_send(encoder_.bytes().substr(sent));

  if (records == 0 && reader.offset() == from.byte_offset) {
    db.copy_end();
    db.exec("ROLLBACK");
    out.status = chunk_status::nothing_left;
    return out;
  }

  try {
    db.copy_end();
    if (upsert) db.exec(sql_.apply_stage);
    db.exec("RELEASE SAVEPOINT chunk_rows");
  } catch (const pq_error& e) {
    if (!e.data_error()) throw;
    db.exec("ROLLBACK TO SAVEPOINT chunk_rows; RELEASE SAVEPOINT chunk_rows");
    split_(db, 0, good_.size(), e);
  }

  out.rows_loaded = good_.size() - server_rejected_;
  out.rows_rejected = bad_.size();
  out.server_rejected = server_rejected_;
  write_errors_(db);
  import_checkpoint to;
  to.byte_offset = reader.offset();
  to.line_number = reader.line();
  to.rows_done = from.rows_done + out.rows_loaded;
  to.rows_rejected = from.rows_rejected + out.rows_rejected;
  if (!advance_checkpoint(db, slot_, from, to)) {
    // Cannot happen while the row lock is held; be safe anyway.
    db.exec("ROLLBACK");
    out.status = chunk_status::lost_race;
    return out;
  }
  if (before_commit_) before_commit_();
  pq_result commit = db.exec("COMMIT");
  if (commit.command_status() != "COMMIT")
    throw pq_error(fmt::format("COMMIT of the chunk at line {} answered {}", from.line_number, commit.command_status()),
                   "", "", false);
  out.status = chunk_status::committed;
  out.checkpoint = to;
  return out;
}

// ---------------------------------------------------------------------------
// Rows the server refuses: halve until the culprits are alone
// ---------------------------------------------------------------------------

void chunk_loader::send_range_(pq_session& db, std::size_t lo, std::size_t hi) {
  // Good rows are contiguous in the encoder: bad ones were never encoded.
  const std::string_view all = encoder_.bytes();
  db.copy_begin(sql_.copy_rows);
  db.copy_send(csv::copy_header);
  db.copy_send(all.substr(good_[lo].enc_begin, good_[hi - 1].enc_end - good_[lo].enc_begin));
  db.copy_send(csv::copy_trailer);
  db.copy_end();
}

void chunk_loader::apply_range_(pq_session& db, std::size_t lo, std::size_t hi) {
  if (lo >= hi) return;
  db.exec("SAVEPOINT chunk_part");
  try {
    send_range_(db, lo, hi);
    if (request_.mode == import_mode::upsert) db.exec(sql_.apply_stage);
    db.exec("RELEASE SAVEPOINT chunk_part");
  } catch (const pq_error& e) {
    if (!e.data_error()) throw;
    db.exec("ROLLBACK TO SAVEPOINT chunk_part; RELEASE SAVEPOINT chunk_part");
    split_(db, lo, hi, e);
  }
}

void chunk_loader::split_(pq_session& db, std::size_t lo, std::size_t hi, const pq_error& e) {
  if (hi - lo == 1) {
    record_server_refusal_(lo, e);
    return;
  }
  const std::size_t mid = lo + (hi - lo) / 2;
  apply_range_(db, lo, mid);
  apply_range_(db, mid, hi);
}

void chunk_loader::record_server_refusal_(std::size_t row, const pq_error& e) {
  const good_row& g = good_[row];
  ++server_rejected_;
  bad_row b;
  b.line = g.line;
  b.column = clean_text(e.column());
  b.reason = clean_text(fmt::format("the database refused the row: {}", e.primary()));
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(g.end_offset - g.offset, max_raw_record_bytes + 2));
  raw_buffer_.resize(want);
  raw_buffer_.resize(file_.read_at(g.offset, raw_buffer_.data(), want));
  std::string_view raw = raw_buffer_;
  if (raw.size() == g.end_offset - g.offset) raw = without_terminator(raw);
  b.raw = raw_prefix_(raw);
  bad_.push_back(std::move(b));
}

void chunk_loader::write_errors_(pq_session& db) {
  if (bad_.empty()) return;
  errors_encoder_.clear();
  errors_encoder_.write_header();
  std::vector<csv::value> row(5);
  for (const bad_row& b : bad_) {
    row[0] = std::string_view(slot_.task_id);
    row[1] = static_cast<std::int64_t>(b.line);
    row[2] = b.column.empty() ? csv::value{} : csv::value{std::string_view(b.column)};
    row[3] = std::string_view(b.reason);
    row[4] = std::string_view(b.raw);  // bytea: binary COPY takes the bytes as they are
    errors_encoder_.write_row(row);
  }
  errors_encoder_.write_trailer();
  db.copy_begin(copy_errors_sql);
  db.copy_send(errors_encoder_.bytes());
  db.copy_end();
}

}  // namespace celeriac::tasks
