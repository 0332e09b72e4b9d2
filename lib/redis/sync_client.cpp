#include "redis/sync_client.hpp"

#include "redis/error.hpp"
#include "redis/timeout.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <optional>

namespace asio = boost::asio;

namespace celeriac::redis {
namespace {

// Runs `task` on `ioc` until it completes and returns its result or
// rethrows its exception. Other work (the connection's reader) stays
// pending for the next call.
template <typename T>
T run_until_done(asio::io_context& ioc, asio::awaitable<T> task) {
  bool done = false;
  std::exception_ptr error;
  std::optional<T> result;
  asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e, T value) {
    done = true;
    error = e;
    if (!e) result.emplace(std::move(value));
  });
  while (!done) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one();
  }
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

void run_until_done(asio::io_context& ioc, asio::awaitable<void> task) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  while (!done) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one();
  }
  if (error) std::rethrow_exception(error);
}

asio::awaitable<std::vector<resp::value>> exec_with_timeout(connection& conn, const request& req,
                                                            std::chrono::milliseconds timeout) {
  try {
    co_return co_await async_with_timeout(conn.async_exec(req), timeout);
  } catch (const boost::system::system_error& e) {
    if (e.code() != error::timeout) throw;
  }
  throw boost::system::system_error(error::timeout, "Redis request to " +
                                                        to_string(conn.settings()) + " timed out");
}

}  // namespace

sync_client::sync_client(config cfg, std::chrono::milliseconds timeout)
    : conn_(ioc_.get_executor(), std::move(cfg)), timeout_(timeout) {}

void sync_client::connect() { run_until_done(ioc_, conn_.async_connect()); }

std::vector<resp::value> sync_client::exec(const request& req) { return exec(req, timeout_); }

std::vector<resp::value> sync_client::exec(const request& req, std::chrono::milliseconds timeout) {
  return run_until_done(ioc_, exec_with_timeout(conn_, req, timeout));
}

}  // namespace celeriac::redis
