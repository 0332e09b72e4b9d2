#include "pg/job_writer.hpp"

#include <exception>

#include <fmt/format.h>
#include <pqxx/transaction>

#include "json/dump.hpp"
#include "pg/pool.hpp"
#include "pg/sql_text.hpp"

namespace celeriac::pg {
namespace {

// Does the incoming row (EXCLUDED) take over the stored one (j)? The SQL
// twin of takes_over() in job_update.cpp.
constexpr std::string_view takes_over_sql = R"sql((
  (celeriac_job_state_rank(EXCLUDED.state) = 4
     AND (celeriac_job_state_rank(j.state) < 4 OR EXCLUDED.attempts >= j.attempts))
  OR (celeriac_job_state_rank(EXCLUDED.state) < 4 AND celeriac_job_state_rank(j.state) < 4
     AND (EXCLUDED.attempts > j.attempts
          OR (EXCLUDED.attempts = j.attempts
              AND celeriac_job_state_rank(EXCLUDED.state) >= celeriac_job_state_rank(j.state))))
))sql";

// Newer value when the incoming row takes over, stored one otherwise; NULL
// never erases a value (the twin of pick()).
std::string pick(std::string_view column) {
  return fmt::format("{0} = CASE WHEN {1} THEN COALESCE(EXCLUDED.{0}, j.{0}) ELSE COALESCE(j.{0}, EXCLUDED.{0}) END",
                     column, takes_over_sql);
}

// A final state that takes over reports its own error and result.
std::string outcome(std::string_view column) {
  return fmt::format(
      "{0} = CASE WHEN {1} AND celeriac_job_state_rank(EXCLUDED.state) = 4 THEN EXCLUDED.{0} "
      "WHEN {1} THEN COALESCE(EXCLUDED.{0}, j.{0}) ELSE COALESCE(j.{0}, EXCLUDED.{0}) END",
      column, takes_over_sql);
}

std::string build_upsert_sql() {
  // Parameters are arrays, one per column, so a batch of any size is one
  // parameterised statement; unnest() turns them back into rows.
  return fmt::format(R"sql(
WITH incoming AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                       $7::text[], $8::jsonb[], $9::text[], $10::text[], $11::jsonb[], $12::integer[],
                       $13::text[], $14::timestamptz[], $15::timestamptz[], $16::timestamptz[])
    AS t(task_id, name, queue, state, progress_done, progress_total, progress_unit, meta, message, error,
         result, attempts, worker, created_at, started_at, finished_at)
), written AS (
  INSERT INTO celeriac_jobs AS j
    (task_id, name, queue, state, progress_done, progress_total, progress_unit, meta, message, error,
     result, attempts, worker, created_at, started_at, finished_at, updated_at)
  SELECT task_id, name, queue, state, progress_done, progress_total, progress_unit, meta, message, error,
         result, attempts, worker, COALESCE(created_at, now()), started_at, finished_at, now()
  FROM incoming
  ON CONFLICT (task_id) DO UPDATE SET
    state = CASE WHEN {takes_over} THEN EXCLUDED.state ELSE j.state END,
    progress_done = CASE
      WHEN EXCLUDED.attempts = j.attempts THEN GREATEST(j.progress_done, EXCLUDED.progress_done)
      WHEN EXCLUDED.attempts > j.attempts AND {takes_over} THEN COALESCE(EXCLUDED.progress_done, j.progress_done)
      ELSE j.progress_done END,
    {progress_total},
    {progress_unit},
    {meta},
    {name},
    {queue},
    {worker},
    {message},
    {error},
    {result},
    attempts = GREATEST(j.attempts, EXCLUDED.attempts),
    created_at = LEAST(j.created_at, EXCLUDED.created_at),
    started_at = COALESCE(j.started_at, EXCLUDED.started_at),
    finished_at = COALESCE(j.finished_at, EXCLUDED.finished_at),
    updated_at = now()
  RETURNING j.task_id, j.state, j.progress_done, j.progress_total, j.progress_unit
)
SELECT pg_notify('{channel}', json_build_object('task_id', task_id, 'state', state,
                 'progress_done', progress_done, 'progress_total', progress_total,
                 'progress_unit', progress_unit)::text)
FROM written
)sql",
                     fmt::arg("takes_over", takes_over_sql), fmt::arg("progress_total", pick("progress_total")),
                     fmt::arg("progress_unit", pick("progress_unit")), fmt::arg("meta", pick("meta")),
                     fmt::arg("name", pick("name")), fmt::arg("queue", pick("queue")),
                     fmt::arg("worker", pick("worker")), fmt::arg("message", pick("message")),
                     fmt::arg("error", outcome("error")), fmt::arg("result", outcome("result")),
                     fmt::arg("channel", jobs_channel));
}

const std::string& upsert_sql() {
  static const std::string sql = build_upsert_sql();
  return sql;
}

void add_time(array_literal& a, const std::optional<util::wall_time>& t) {
  t ? a.add(util::iso8601_utc(*t)) : a.add_null();
}

std::size_t upsert(pqxx::connection& c, std::span<const job_update> updates) {
  array_literal task_id, name, queue, state, done, total, unit, meta, message, error, result, attempts, worker,
      created_at, started_at, finished_at;
  for (const job_update& u : updates) {
    task_id.add(u.task_id);
    name.add(u.name);
    queue.add(u.queue);
    state.add(to_string(u.state));
    done.add(u.progress_done);
    total.add(u.progress_total);
    unit.add(u.progress_unit);
    u.meta ? meta.add(json::dump(*u.meta, json::style::compact)) : meta.add_null();
    message.add(u.message);
    error.add(u.error);
    result.add(u.result);
    attempts.add(std::int64_t{u.attempts});
    worker.add(u.worker);
    add_time(created_at, u.created_at);
    add_time(started_at, u.started_at);
    add_time(finished_at, u.finished_at);
  }
  pqxx::work tx{c};
  auto rows = tx.exec_params(upsert_sql(), task_id.finish(), name.finish(), queue.finish(), state.finish(),
                             done.finish(), total.finish(), unit.finish(), meta.finish(), message.finish(),
                             error.finish(), result.finish(), attempts.finish(), worker.finish(),
                             created_at.finish(), started_at.finish(), finished_at.finish());
  tx.commit();
  return rows.size();
}

}  // namespace

std::size_t write_jobs(pqxx::connection& c, std::span<const job_update> updates) {
  if (updates.empty()) return 0;
  return upsert(c, updates);
}

std::vector<rejected_update> write_jobs_one_by_one(pqxx::connection& c, std::span<const job_update> updates) {
  std::vector<rejected_update> rejected;
  for (const job_update& u : updates) {
    std::exception_ptr failure;
    try {
      upsert(c, std::span(&u, 1));
      continue;
    } catch (...) {
      failure = std::current_exception();
    }
    if (classify(failure) != failure_kind::data) std::rethrow_exception(failure);
    // Keep the state, drop the parts most likely refused (JSON the server
    // cannot store, e.g. a \u0000 escape in jsonb).
    job_update stripped = u;
    stripped.meta.reset();
    stripped.result.reset();
    std::string note = fmt::format("meta/result not stored: {}", describe(failure));
    truncate_utf8(note, 1024);
    stripped.message = stripped.message ? *stripped.message + "; " + note : note;
    try {
      upsert(c, std::span(&stripped, 1));
      continue;
    } catch (...) {
      failure = std::current_exception();
    }
    if (classify(failure) != failure_kind::data) std::rethrow_exception(failure);
    rejected.push_back({u.task_id, describe(failure)});
  }
  return rejected;
}

}  // namespace celeriac::pg
