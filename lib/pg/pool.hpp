#pragma once
// A small pool of libpqxx connections, each used by one thread of a
// dedicated thread pool, so blocking libpq calls never run on the
// io_context threads.
//
//   pg::pool db({.url = url, .connections = 2});
//   int n = co_await db.async_run([](pqxx::connection& c) {
//     pqxx::work tx{c};
//     auto r = tx.exec_params1("SELECT count(*) FROM celeriac_jobs WHERE state = $1", "STARTED");
//     tx.commit();
//     return r[0].as<int>();
//   });
//
// Connections open lazily (the first call that needs one), so a pool can be
// built while the database is still down.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <pqxx/connection>

namespace celeriac::pg {

// What a failed call may do again. Pass the weakest choice that is true of
// the function: retrying is only safe when a repeat cannot double a write.
enum class retry_policy {
  // Never retry: every exception goes to the caller.
  none,
  // On a broken connection, reconnect (with backoff) and call the function
  // again; likewise after a deadlock or serialization failure. Safe when the function's writes are inside a transaction it
  // commits last: a connection that breaks before COMMIT rolls them back.
  // An in-doubt COMMIT (pqxx::in_doubt_error) goes to the caller.
  reconnect,
  // As `reconnect`, and an in-doubt COMMIT is also retried: the function
  // promises that running it again after it may have committed leaves the
  // database as one run would (e.g. INSERT ... ON CONFLICT DO UPDATE with
  // the same values).
  idempotent,
};

struct pool_config {
  // libpq connection string: postgresql://user:pass@host:port/db or
  // key=value pairs. Never logged as is (see redact_conninfo).
  std::string url{};
  // Connections, and threads: one each. 0 is taken as 1.
  std::size_t connections = 2;
  // Calls per run()/async_run() including the first, when the policy allows
  // retries. 0 is taken as 1.
  int max_attempts = 5;
  // Backoff between attempts: doubles from `backoff_initial` up to
  // `backoff_max`.
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
  // Added to the connection string as connect_timeout unless it sets one,
  // so an unreachable host cannot hold a pool thread for minutes.
  // Zero leaves libpq's default (wait indefinitely).
  std::chrono::seconds connect_timeout{5};
  // Added as application_name unless the connection string sets one; shows
  // in pg_stat_activity. Empty adds nothing.
  std::string application_name = "celeriac";
};

// How an exception thrown by libpqxx (or by a pool call) should be treated.
enum class failure_kind {
  connection,  // the connection broke or the server is going away: reconnect, retry later
  rollback,    // the server rolled the transaction back (deadlock, serialization): run it again
  in_doubt,    // COMMIT was sent but its outcome is unknown
  data,        // the statement was refused for its data (SQLSTATE class 22 or 23)
  other,       // anything else: a bug, a missing table, permissions, ...
};

// Sorts an exception: pqxx::broken_connection and SQLSTATE classes 08
// (connection exception) and 57P (operator intervention, e.g. the server
// shutting down) are `connection`; pqxx::transaction_rollback (SQLSTATE
// 40001, 40P01) is `rollback`; pqxx::in_doubt_error and 40003 (statement
// completion unknown) are `in_doubt`; SQLSTATE classes 22 and 23 are `data`.
// Never throws.
failure_kind classify(const std::exception_ptr& e) noexcept;

// The exception's what() (or "unknown exception"), for log lines.
std::string describe(const std::exception_ptr& e);

namespace detail {

// Where a pool call leaves f's result for the waiting caller.
template <class R>
struct result_slot {
  std::optional<R> value;
  template <class F>
  void call(F& f, pqxx::connection& c) {
    value.emplace(f(c));
  }
  R take() { return std::move(*value); }
};

template <>
struct result_slot<void> {
  template <class F>
  void call(F& f, pqxx::connection& c) {
    f(c);
  }
  void take() {}
};

}  // namespace detail

class pool {
public:
  // Starts the threads; opens no connection yet. Throws std::invalid_argument
  // when cfg.url is empty.
  explicit pool(pool_config cfg);
  // Waits for queued calls to finish (retries are cut short), then closes
  // the connections.
  ~pool();
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  // Runs f(pqxx::connection&) on a pool thread and returns its result, or
  // rethrows its exception once the retry policy gives up. Blocks the
  // calling thread: for CLIs and tests, never for io_context threads. Must
  // not be called from inside a pool call (it would wait for itself).
  template <class F>
  auto run(F f, retry_policy policy = retry_policy::reconnect) -> std::invoke_result_t<F&, pqxx::connection&> {
    using R = std::invoke_result_t<F&, pqxx::connection&>;
    std::promise<void> done;
    auto finished = done.get_future();
    detail::result_slot<R> out;
    submit_(
        [&f, &out](pqxx::connection& c) { out.call(f, c); }, policy,
        [&done](std::exception_ptr e) { e ? done.set_exception(e) : done.set_value(); });
    finished.get();
    return out.take();
  }

  // Runs f(pqxx::connection&) on a pool thread and resumes the awaiting
  // coroutine on its own executor with f's result, or with f's exception
  // once the retry policy gives up. The io_context is kept busy (work is
  // tracked) until the call completes. Not cancellable: a call that started
  // runs to its end (bounded by max_attempts and connect_timeout).
  //
  // g++ 12 pitfall: inside a coroutine, never write a lambda that captures
  // by value anything with a destructor (a std::string, a shared_ptr) right
  // in the co_await expression: g++ 12 destroys such closure temporaries
  // twice. Name it first:
  //   auto query = [id](pqxx::connection& c) { ... };
  //   auto row = co_await db.async_run(std::move(query));
  // Closures capturing only references or scalars are unaffected.
  template <class F>
  auto async_run(F f, retry_policy policy = retry_policy::reconnect)
      -> boost::asio::awaitable<std::invoke_result_t<F&, pqxx::connection&>> {
    using R = std::invoke_result_t<F&, pqxx::connection&>;
    detail::result_slot<R> out;
    // f and out live in this coroutine frame, which outlives the call.
    co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::exception_ptr)>(
        [this, &f, &out, policy](auto handler) {
          auto ex = boost::asio::get_associated_executor(handler);
          submit_async_(
              [&f, &out](pqxx::connection& c) { out.call(f, c); }, policy, boost::asio::any_io_executor(ex),
              boost::asio::any_completion_handler<void(std::exception_ptr)>(std::move(handler)));
        },
        boost::asio::use_awaitable);
    co_return out.take();
  }

  // The connection string with its password redacted, for log lines.
  const std::string& redacted_url() const noexcept { return redacted_url_; }
  std::size_t size() const noexcept { return slots_.size(); }

private:
  struct slot {
    std::unique_ptr<pqxx::connection> conn;
    bool busy = false;
  };

  using call_fn = std::function<void(pqxx::connection&)>;

  void submit_(call_fn fn, retry_policy policy, std::function<void(std::exception_ptr)> done);
  void submit_async_(call_fn fn, retry_policy policy, boost::asio::any_io_executor ex,
                     boost::asio::any_completion_handler<void(std::exception_ptr)> handler);
  // Runs fn on the calling (pool) thread with a leased connection,
  // reconnecting and retrying as the policy allows.
  void execute_(const call_fn& fn, retry_policy policy);
  slot& acquire_();
  void release_(slot& s);

  pool_config cfg_;
  std::string conninfo_;
  std::string redacted_url_;
  std::vector<slot> slots_;
  std::mutex mutex_;
  std::condition_variable slot_free_;
  std::condition_variable stop_requested_;
  std::atomic<bool> stopping_{false};
  boost::asio::thread_pool threads_;
};

}  // namespace celeriac::pg
