#include "pg/job_store.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pqxx/except>

#include "pg/job_buffer.hpp"
#include "pg/job_writer.hpp"
#include "util/log.hpp"

namespace celeriac::pg {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// A failed write whose reason names a missing table almost always means
// migrations have not been run against this database.
std::string hint_for(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const pqxx::sql_error& x) {
    if (x.sqlstate() == "42P01" || x.sqlstate() == "42883")
      return " (run `celeriac migrate --database URL` to create the celeriac_* tables)";
  } catch (...) {
  }
  return "";
}

constexpr std::size_t max_rejections_logged = 10;

}  // namespace

struct job_store::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor ex, pool& db, job_store_config cfg)
      : strand(asio::make_strand(std::move(ex))),
        db(db),
        url(db.redacted_url()),
        cfg(cfg),
        buffer(cfg.max_pending),
        wake(strand) {
    this->cfg.max_batch_rows = std::max<std::size_t>(cfg.max_batch_rows, 1);
    this->cfg.concurrent_writes = std::max<std::size_t>(cfg.concurrent_writes, 1);
  }

  asio::strand<asio::any_io_executor> strand;
  // Used only to start writes: after async_stop() gives up, the pool may be
  // gone while a write finishes, so log lines use the copy of its URL.
  pool& db;
  std::string url;
  job_store_config cfg;

  // Guarded by mutex: record() may be called from any thread.
  mutable std::mutex mutex;
  job_buffer buffer;
  job_store_stats counters;
  bool final_drop_logged = false;  // one error line per outage; the rest are counted

  // Touched only on the strand.
  asio::steady_timer wake;
  bool started = false;
  bool running = false;
  bool flush_requested = false;
  bool stopping = false;
  bool abandon = false;
  bool last_failed = false;
  milliseconds backoff{0};
  std::optional<steady_clock::time_point> outage_since;
  std::uint64_t drops_at_outage_start = 0;
  std::uint64_t final_drops_at_outage_start = 0;

  void note_final_drop(const std::string& task_id) {
    // Called with mutex held.
    if (final_drop_logged) return;
    final_drop_logged = true;
    log::error(
        "job store: buffer full ({} jobs) with only final states pending; dropped the final state of task {} "
        "(its row keeps an older state). Further drops are counted and reported when writes succeed again",
        buffer.capacity(), task_id);
  }

  void record(job_update u) {
    if (!normalize(u, util::wall_now())) {
      std::lock_guard lock(mutex);
      ++counters.refused;
      log::warning("job store: refused an update with a task id of {} bytes (must be 1 to {})", u.task_id.size(),
                   max_task_id_bytes);
      return;
    }
    std::lock_guard lock(mutex);
    ++counters.recorded;
    if (auto dropped = buffer.add(std::move(u))) note_final_drop(*dropped);
  }

  job_store_stats stats() const {
    std::lock_guard lock(mutex);
    job_store_stats s = counters;
    s.pending = buffer.size() + buffer.in_flight();
    s.dropped_nonfinal = buffer.dropped_nonfinal();
    s.dropped_final = buffer.dropped_final();
    return s;
  }

  bool idle() const {
    std::lock_guard lock(mutex);
    return buffer.empty() && buffer.in_flight() == 0;
  }

  // Writes one batch; on failure returns the exception (the caller puts the
  // batch back).
  asio::awaitable<std::exception_ptr> write(const std::vector<job_ref>& batch) {
    std::exception_ptr failure;
    try {
      std::size_t rows = co_await db.async_run(
          [&batch](pqxx::connection& c) { return write_jobs(c, batch); }, retry_policy::idempotent);
      std::lock_guard lock(mutex);
      counters.written_rows += rows;
      ++counters.batches;
      co_return nullptr;
    } catch (...) {
      failure = std::current_exception();
    }
    if (classify(failure) != failure_kind::data) co_return failure;

    // Some row's data was refused; find it by writing rows one at a time.
    log::warning("job store: PostgreSQL refused a batch of {} job updates ({}); writing them one by one",
                 batch.size(), describe(failure));
    try {
      auto rejected = co_await db.async_run(
          [&batch](pqxx::connection& c) { return write_jobs_one_by_one(c, batch); }, retry_policy::idempotent);
      for (std::size_t i = 0; i < rejected.size() && i < max_rejections_logged; ++i)
        log::error("job store: PostgreSQL refused the update of task {}; it is dropped: {}", rejected[i].task_id,
                   rejected[i].reason);
      if (rejected.size() > max_rejections_logged)
        log::error("job store: {} more updates refused and dropped", rejected.size() - max_rejections_logged);
      std::lock_guard lock(mutex);
      counters.written_rows += batch.size() - rejected.size();
      counters.batches += batch.size() - rejected.size();
      counters.rejected += rejected.size();
      co_return nullptr;
    } catch (...) {
      co_return std::current_exception();
    }
  }

  void note_failure(const std::exception_ptr& e) {
    std::lock_guard lock(mutex);
    ++counters.failed_writes;
    counters.database_ok = false;
    if (outage_since) {
      log::debug("job store: write to {} failed again: {}", url, describe(e));
      return;
    }
    outage_since = steady_clock::now();
    drops_at_outage_start = buffer.dropped_nonfinal();
    final_drops_at_outage_start = buffer.dropped_final();
    log::warning(
        "job store: cannot write job states to PostgreSQL at {}: {}{}; keeping the latest update of up to {} jobs "
        "in memory and retrying",
        url, describe(e), hint_for(e), buffer.capacity());
  }

  void note_success() {
    if (!outage_since) return;
    std::lock_guard lock(mutex);
    double seconds = std::chrono::duration<double>(steady_clock::now() - *outage_since).count();
    log::info("job store: PostgreSQL at {} accepts writes again after {:.1f}s; buffered job states written",
              url, seconds);
    std::uint64_t dropped = buffer.dropped_nonfinal() - drops_at_outage_start;
    std::uint64_t dropped_final = buffer.dropped_final() - final_drops_at_outage_start;
    if (dropped || dropped_final)
      log::error("job store: while writes failed, the full buffer dropped {} progress updates and {} final states",
                 dropped, dropped_final);
    outage_since.reset();
    final_drop_logged = false;
    counters.database_ok = true;
  }

  // Takes and writes batches of updates pending since `up_to` or before,
  // until none is left or a write fails (then its batch goes back to the
  // buffer and `failed` is set).
  asio::awaitable<void> writer(std::uint64_t up_to, bool& failed) {
    job_buffer::batch batch;
    for (;;) {
      if (abandon || failed) co_return;
      std::vector<job_ref> refs;
      {
        std::lock_guard lock(mutex);
        buffer.take(cfg.max_batch_rows, up_to, batch);
        // Built under the lock: record() may relink the slots meanwhile
        // (never the in-flight updates these point at).
        refs = batch.refs();
      }
      if (batch.empty()) co_return;
      std::exception_ptr failure = co_await write(refs);
      {
        std::lock_guard lock(mutex);
        if (!failure) {
          buffer.written(batch);
          continue;
        }
        for (const auto& id : buffer.put_back(batch)) note_final_drop(id);
      }
      failed = true;
      note_failure(failure);
      co_return;
    }
  }

  // Writes what is pending now, with up to cfg.concurrent_writes batches in
  // flight. Updates recorded meanwhile wait for the next flush: that is what
  // bounds how often one job is written. False if a write failed.
  asio::awaitable<bool> drain() {
    std::uint64_t up_to;
    {
      std::lock_guard lock(mutex);
      up_to = buffer.last_added();
    }
    bool failed = false;
    std::size_t active = cfg.concurrent_writes;
    asio::steady_timer all_done(strand, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < cfg.concurrent_writes; ++i) {
      asio::co_spawn(strand, writer(up_to, failed), [&active, &all_done](std::exception_ptr e) {
        if (e) log::error("job store: a writer ended by an unexpected error: {}", describe(e));
        if (--active == 0) all_done.cancel();
      });
    }
    while (active > 0) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !failed && !abandon;
  }

  asio::awaitable<void> loop() {
    for (;;) {
      // After a failure, wait out the backoff even when stopping, or a dead
      // database would be hammered until the stop timeout.
      if (!abandon && !flush_requested && (!stopping || last_failed)) {
        wake.expires_after(last_failed ? backoff : cfg.flush_interval);
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (abandon) break;
      flush_requested = false;
      const bool ok = co_await drain();
      if (ok) {
        note_success();
        last_failed = false;
        backoff = cfg.retry_initial;
        if (stopping && idle()) break;
      } else {
        backoff = last_failed ? std::min(backoff * 2, cfg.retry_max) : cfg.retry_initial;
        last_failed = true;
      }
    }
    if (abandon) {
      auto s = stats();
      if (s.pending)
        log::error("job store: stopped with {} job updates unwritten (PostgreSQL at {} unreachable?); their rows "
                   "keep older states",
                   s.pending, url);
    }
  }

  // Polls until the store is idle (or the loop has stopped, when
  // `until_stopped`) or the deadline passes.
  asio::awaitable<bool> wait_until(steady_clock::time_point deadline, bool until_stopped) {
    asio::steady_timer poll(strand);
    for (;;) {
      if (until_stopped ? !running : idle()) co_return true;
      if (steady_clock::now() >= deadline) co_return false;
      poll.expires_after(milliseconds(10));
      co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  asio::awaitable<bool> flush(milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    flush_requested = true;
    wake.cancel();
    co_return co_await wait_until(deadline, false);
  }

  asio::awaitable<bool> stop(milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    stopping = true;
    flush_requested = true;
    wake.cancel();
    if (running && !co_await wait_until(deadline, true)) {
      abandon = true;
      wake.cancel();
    }
    co_return idle();
  }
};

job_store::job_store(asio::any_io_executor ex, pool& db, job_store_config cfg)
    : impl_(std::make_shared<impl>(std::move(ex), db, cfg)) {}

job_store::~job_store() {
  asio::post(impl_->strand, [self = impl_] {
    if (!self->running) return;
    log::warning("job store destroyed while its loop runs (async_stop() not awaited); abandoning pending updates");
    self->stopping = true;
    self->abandon = true;
    self->wake.cancel();
  });
}

void job_store::start() {
  asio::post(impl_->strand, [self = impl_] {
    if (self->started) return;
    self->started = true;
    self->running = true;
    self->backoff = self->cfg.retry_initial;
    // `self` in the completion handler keeps the impl alive while the loop runs.
    asio::co_spawn(self->strand, self->loop(), [self](std::exception_ptr e) {
      self->running = false;
      if (e) log::error("job store: flush loop ended by an unexpected error: {}", describe(e));
    });
  });
}

void job_store::record(job_update u) { impl_->record(std::move(u)); }

// Each call runs on the store's strand. The awaitable is built outside the
// co_await expression and no lambda temporary appears in it: g++ 12 destroys
// aggregate temporaries (closures included) of a co_await expression twice.
asio::awaitable<bool> job_store::async_flush(milliseconds timeout) {
  auto self = impl_;
  auto on_strand = asio::co_spawn(self->strand, self->flush(timeout), asio::use_awaitable);
  co_return co_await std::move(on_strand);
}

asio::awaitable<bool> job_store::async_stop(milliseconds timeout) {
  auto self = impl_;
  auto on_strand = asio::co_spawn(self->strand, self->stop(timeout), asio::use_awaitable);
  co_return co_await std::move(on_strand);
}

job_store_stats job_store::stats() const { return impl_->stats(); }

}  // namespace celeriac::pg
