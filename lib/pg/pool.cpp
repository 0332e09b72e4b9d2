#include "pg/pool.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <pqxx/except>

#include "pg/conninfo.hpp"
#include "util/log.hpp"

namespace celeriac::pg {

failure_kind classify(const std::exception_ptr& e) noexcept {
  if (!e) return failure_kind::other;
  try {
    std::rethrow_exception(e);
  } catch (const pqxx::in_doubt_error&) {
    return failure_kind::in_doubt;
  } catch (const pqxx::statement_completion_unknown&) {
    return failure_kind::in_doubt;
  } catch (const pqxx::broken_connection&) {
    return failure_kind::connection;
  } catch (const pqxx::transaction_rollback&) {
    return failure_kind::rollback;
  } catch (const pqxx::sql_error& x) {
    const std::string& state = x.sqlstate();
    if (state.starts_with("08") || state.starts_with("57P")) return failure_kind::connection;
    if (state == "40001" || state == "40P01") return failure_kind::rollback;
    if (state == "40003") return failure_kind::in_doubt;
    if (state.starts_with("22") || state.starts_with("23")) return failure_kind::data;
    return failure_kind::other;
  } catch (...) {
    return failure_kind::other;
  }
}

std::string describe(const std::exception_ptr& e) {
  if (!e) return "no error";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    // libpq's messages span lines ("...\n\tIs the server running...",
    // "\nLINE 9: <statement>\n ^"); a log line must stay one line, and the
    // statement excerpt says nothing an operator needs.
    std::string_view what = x.what();
    if (auto at = what.find("\nLINE "); at != std::string_view::npos) what = what.substr(0, at);
    std::string out;
    bool space = false;
    for (char c : what) {
      if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
        space = !out.empty();
        continue;
      }
      if (space) out.push_back(' ');
      space = false;
      out.push_back(c);
    }
    return out;
  } catch (...) {
    return "unknown exception";
  }
}

namespace {

std::string build_conninfo(const pool_config& cfg) {
  std::string info = cfg.url;
  if (cfg.connect_timeout.count() > 0)
    info = with_default_param(info, "connect_timeout", std::to_string(cfg.connect_timeout.count()));
  if (!cfg.application_name.empty()) info = with_default_param(info, "application_name", cfg.application_name);
  return info;
}

}  // namespace

pool::pool(pool_config cfg)
    : cfg_(std::move(cfg)),
      slots_(std::max<std::size_t>(cfg_.connections, 1)),
      threads_(std::max<std::size_t>(cfg_.connections, 1)) {
  if (cfg_.url.empty())
    throw std::invalid_argument(
        "pg::pool: no database URL given; pass --database postgresql://user@host:port/db or set "
        "CELERIAC_DATABASE_URL");
  if (cfg_.max_attempts < 1) cfg_.max_attempts = 1;
  conninfo_ = build_conninfo(cfg_);
  redacted_url_ = redact_conninfo(cfg_.url);
}

pool::~pool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();  // cuts backoff sleeps short
  threads_.join();
}

void pool::submit_(call_fn fn, retry_policy policy, std::function<void(std::exception_ptr)> done) {
  boost::asio::post(threads_, [this, fn = std::move(fn), policy, done = std::move(done)] {
    std::exception_ptr failure;
    try {
      execute_(fn, policy);
    } catch (...) {
      failure = std::current_exception();
    }
    done(failure);
  });
}

void pool::submit_async_(call_fn fn, retry_policy policy, boost::asio::any_io_executor ex,
                         boost::asio::any_completion_handler<void(std::exception_ptr)> handler) {
  // Tracked work keeps the caller's io_context from running out of work
  // (and returning from run()) while the call is away on a pool thread.
  auto work = boost::asio::prefer(std::move(ex), boost::asio::execution::outstanding_work.tracked);
  boost::asio::post(threads_, [this, fn = std::move(fn), policy, work = std::move(work),
                               handler = std::move(handler)]() mutable {
    std::exception_ptr failure;
    try {
      execute_(fn, policy);
    } catch (...) {
      failure = std::current_exception();
    }
    boost::asio::post(work, [handler = std::move(handler), failure]() mutable { std::move(handler)(failure); });
  });
}

pool::slot& pool::acquire_() {
  std::unique_lock lock(mutex_);
  for (;;) {
    for (auto& s : slots_) {
      if (!s.busy) {
        s.busy = true;
        return s;
      }
    }
    // Unreachable while calls only run on the pool's own threads (one slot
    // per thread); kept so a miscount blocks instead of sharing a connection.
    slot_free_.wait(lock);
  }
}

void pool::release_(slot& s) {
  {
    std::lock_guard lock(mutex_);
    s.busy = false;
  }
  slot_free_.notify_one();
}

void pool::execute_(const call_fn& fn, retry_policy policy) {
  slot& s = acquire_();
  struct lease {
    pool& p;
    slot& s;
    ~lease() { p.release_(s); }
  } held{*this, s};

  auto backoff = cfg_.backoff_initial;
  for (int attempt = 1;; ++attempt) {
    std::exception_ptr failure;
    try {
      if (!s.conn) s.conn = std::make_unique<pqxx::connection>(conninfo_);
      fn(*s.conn);
      return;
    } catch (...) {
      failure = std::current_exception();
    }
    const failure_kind kind = classify(failure);
    // A connection that broke, or whose COMMIT is in doubt, is in an unknown
    // state: drop it and open a fresh one on the next attempt or call.
    if (kind == failure_kind::connection || kind == failure_kind::in_doubt) s.conn.reset();
    const bool retryable = (policy != retry_policy::none &&
                            (kind == failure_kind::connection || kind == failure_kind::rollback)) ||
                           (policy == retry_policy::idempotent && kind == failure_kind::in_doubt);
    if (!retryable || attempt >= cfg_.max_attempts || stopping_) std::rethrow_exception(failure);
    log::debug("PostgreSQL call to {} failed (attempt {} of {}): {}; retrying in {} ms", redacted_url_, attempt,
               cfg_.max_attempts, describe(failure), backoff.count());
    {
      std::unique_lock lock(mutex_);
      stop_requested_.wait_for(lock, backoff, [this] { return stopping_.load(); });
    }
    backoff = std::min(backoff * 2, cfg_.backoff_max);
  }
}

}  // namespace celeriac::pg
