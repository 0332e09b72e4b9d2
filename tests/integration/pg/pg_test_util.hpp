// Helpers shared by the lib/pg integration tests.
#pragma once

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <pqxx/pqxx>

#include "support/pg_server.hpp"

namespace celeriac::test {

// A new, empty database on the shared server; returns its URL.
inline std::string fresh_database(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  pqxx::connection admin{shared_pg_server().url()};
  pqxx::nontransaction tx{admin};
  tx.exec("CREATE DATABASE " + tx.quote_name(name));
  return shared_pg_server().url(name);
}

// An io_context running on its own thread, for code that needs one; joined
// on destruction.
class io_thread {
 public:
  io_thread() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~io_thread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }

  // Runs a coroutine on the io_context and waits for its result.
  template <class Awaitable>
  auto run(Awaitable a) {
    return boost::asio::co_spawn(io_, std::move(a), boost::asio::use_future).get();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace celeriac::test
