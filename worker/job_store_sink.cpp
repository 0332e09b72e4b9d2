#include "worker/job_store_sink.hpp"

#include "json/dump.hpp"
#include "pg/job_state.hpp"
#include "util/log.hpp"

namespace celeriac::worker {

namespace {

// Write connections per child (job_store's concurrent_writes). A batch of
// 5,000 rows costs the server about 50 ms (docs/postgres.md), so one keeps
// up with a child draining no-op tasks; a second only adds a session
// inserting into the same index pages, which cost the server twice the CPU
// per row in the noop drain (docs/benchmarks.md). N children take N of the
// server's connections.
constexpr std::size_t store_connections = 1;

}  // namespace

int attempts_of(std::int64_t retries, bool redelivered) noexcept {
  const std::int64_t n = 1 + std::max<std::int64_t>(retries, 0) + (redelivered ? 1 : 0);
  return static_cast<int>(std::min<std::int64_t>(n, 1'000'000));
}

std::optional<pg::job_update> lifecycle_update(const celery::task_message& m, std::string_view state,
                                               const json::value& result, const std::string& error,
                                               const job_labels& labels) {
  auto parsed = pg::parse_job_state(state);
  if (!parsed) return std::nullopt;
  pg::job_update u;
  u.task_id = m.headers.id;
  u.state = *parsed;
  u.attempts = attempts_of(m.headers.retries, m.redelivered());
  // The labels go with the first and the last state of a delivery; the
  // states between keep what is recorded (an empty field never erases),
  // which saves copying them for every task.
  if (*parsed != pg::job_state::started) {
    u.name = labels.name;
    u.queue = labels.queue;
    u.worker = labels.worker;
  }
  switch (*parsed) {
    case pg::job_state::success: u.result = json::dump(result); break;
    case pg::job_state::failure:
    case pg::job_state::retry: u.error = error; break;
    case pg::job_state::revoked:
      if (!error.empty()) u.message = "revoked: " + error;
      break;
    default: break;
  }
  return u;
}

pg::job_update started_update(const app::task_request& request) {
  pg::job_update u;
  u.task_id = request.id;
  u.state = pg::job_state::started;
  u.attempts = attempts_of(request.retries, request.redelivered);
  return u;
}

pg::job_update progress_update(const app::task_request& request, const app::progress_report& report) {
  pg::job_update u;
  u.task_id = request.id;
  u.state = pg::job_state::progress;
  u.attempts = attempts_of(request.retries, request.redelivered);
  u.progress_done = report.done;
  u.progress_total = report.total;
  if (!report.unit.empty()) u.progress_unit = report.unit;
  if (!report.meta.is_null()) u.meta = report.meta;
  return u;
}

job_store_sink::job_store_sink(boost::asio::any_io_executor ex, const std::string& database_url,
                               const std::string& worker)
    : worker_(worker) {
  pg::pool_config pc;
  pc.url = database_url;
  pc.connections = store_connections;
  pc.application_name = "celeriac-worker";
  pool_ = std::make_unique<pg::pool>(std::move(pc));
  pg::job_store_config sc;
  sc.concurrent_writes = store_connections;
  store_ = std::make_unique<pg::job_store>(std::move(ex), *pool_, sc);
}

job_store_sink::~job_store_sink() {
  store_.reset();  // before the pool it writes through
  pool_.reset();
}

void job_store_sink::start() { store_->start(); }

boost::asio::awaitable<bool> job_store_sink::async_stop(std::chrono::milliseconds timeout) {
  const bool ok = co_await store_->async_stop(timeout);
  co_return ok;
}

void job_store_sink::record(const celery::task_message& m, const std::string& queue, std::string_view state,
                            const json::value& result, const std::string& error) {
  auto u = lifecycle_update(m, state, result, error, {names_.get(m.headers.task), queues_.get(queue), worker_});
  if (!u) {
    log::warning("job store: ignoring unknown lifecycle state '{}' of task {}", state, m.headers.id);
    return;
  }
  store_->record(std::move(*u));
}

void job_store_sink::started(const app::task_request& request) { store_->record(started_update(request)); }

void job_store_sink::progress(const app::task_request& request, const app::progress_report& report) {
  store_->record(progress_update(request, report));
}

}  // namespace celeriac::worker
