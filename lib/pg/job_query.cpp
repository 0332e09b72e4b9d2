#include "pg/job_query.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <pqxx/result>
#include <pqxx/transaction>

#include "json/parse.hpp"

namespace celeriac::pg {
namespace {

// Timestamps travel as integer microseconds since the epoch: exact, and no
// text parsing of PostgreSQL's output formats.
constexpr std::string_view columns = R"sql(
  task_id, state, name, queue, progress_done, progress_total, progress_unit, meta::text, message, error,
  result::text, attempts, worker,
  (extract(epoch FROM created_at) * 1000000)::bigint,
  (extract(epoch FROM started_at) * 1000000)::bigint,
  (extract(epoch FROM finished_at) * 1000000)::bigint,
  (extract(epoch FROM updated_at) * 1000000)::bigint
)sql";

template <class T>
std::optional<T> optional_field(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<T>();
}

std::optional<util::wall_time> optional_time(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return util::wall_time(std::chrono::microseconds(f.as<std::int64_t>()));
}

job_row to_job_row(const pqxx::row& r) {
  job_row j;
  j.task_id = r[0].as<std::string>();
  auto state = parse_job_state(r[1].as<std::string>());
  if (!state)
    throw std::runtime_error(fmt::format("celeriac_jobs row {} has unknown state '{}'; is this celeriac too old "
                                         "for the database's migrations?",
                                         j.task_id, r[1].c_str()));
  j.state = *state;
  j.name = optional_field<std::string>(r[2]);
  j.queue = optional_field<std::string>(r[3]);
  j.progress_done = optional_field<std::int64_t>(r[4]);
  j.progress_total = optional_field<std::int64_t>(r[5]);
  j.progress_unit = optional_field<std::string>(r[6]);
  if (!r[7].is_null()) {
    auto meta = json::parse(r[7].c_str());
    if (meta) j.meta = std::move(*meta);
  }
  j.message = optional_field<std::string>(r[8]);
  j.error = optional_field<std::string>(r[9]);
  j.result = optional_field<std::string>(r[10]);
  j.attempts = r[11].as<int>();
  j.worker = optional_field<std::string>(r[12]);
  j.created_at = optional_time(r[13]).value_or(util::wall_time{});
  j.started_at = optional_time(r[14]);
  j.finished_at = optional_time(r[15]);
  j.updated_at = optional_time(r[16]).value_or(util::wall_time{});
  return j;
}

}  // namespace

std::optional<job_row> get_job(pqxx::connection& c, std::string_view task_id) {
  pqxx::work tx{c};
  auto rows = tx.exec_params(fmt::format("SELECT {} FROM celeriac_jobs WHERE task_id = $1", columns),
                             std::string(task_id));
  tx.commit();
  if (rows.empty()) return std::nullopt;
  return to_job_row(rows[0]);
}

std::vector<job_row> list_jobs(pqxx::connection& c, const job_filter& filter) {
  std::vector<job_row> out;
  if (filter.limit == 0) return out;
  const auto limit = static_cast<std::int64_t>(filter.limit);
  pqxx::work tx{c};
  pqxx::result rows =
      filter.state
          ? tx.exec_params(fmt::format("SELECT {} FROM celeriac_jobs WHERE state = $1 "
                                       "ORDER BY created_at DESC, task_id LIMIT $2",
                                       columns),
                           std::string(to_string(*filter.state)), limit)
          : tx.exec_params(fmt::format("SELECT {} FROM celeriac_jobs ORDER BY created_at DESC, task_id LIMIT $1",
                                       columns),
                           limit);
  tx.commit();
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(to_job_row(r));
  return out;
}

}  // namespace celeriac::pg
