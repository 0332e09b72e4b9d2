// redis::sync_client: a blocking facade over connection, for CLIs and
// tests. It owns its io_context and runs it only inside its own calls, so
// do not use it from within a coroutine or another io_context's thread.
//
//   redis::sync_client c{*redis::parse_url(url)};
//   c.connect();
//   auto pong = c.command("PING");                     // +PONG
//   redis::request req; req.push("SET", "k", "v").push("GET", "k");
//   auto replies = c.exec(req);                       // [+OK, "v"]
#pragma once

#include "redis/config.hpp"
#include "redis/connection.hpp"
#include "redis/request.hpp"
#include "resp/value.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <string_view>
#include <vector>

namespace celeriac::redis {

class sync_client {
 public:
  // `timeout` bounds each exec()/command(); connect() is bounded by
  // cfg.connect_timeout.
  explicit sync_client(config cfg, std::chrono::milliseconds timeout = std::chrono::seconds{10});
  sync_client(const sync_client&) = delete;
  sync_client& operator=(const sync_client&) = delete;

  // Connects (see connection::async_connect); throws its system_error.
  void connect();

  // Runs the pipeline and returns its replies (error replies are values).
  // Throws system_error: error::timeout if it takes longer than the
  // timeout (the connection stays usable; late replies are discarded),
  // or what connection::async_exec throws.
  std::vector<resp::value> exec(const request& req);
  std::vector<resp::value> exec(const request& req, std::chrono::milliseconds timeout);

  // Runs one command and returns its reply, e.g. command("INCRBY", key, 5).
  template <command_arg... Args>
  resp::value command(std::string_view name, const Args&... args) {
    request req;
    req.push(name, args...);
    return std::move(exec(req).front());
  }

  void close() noexcept { conn_.close(); }
  bool is_connected() const noexcept { return conn_.is_connected(); }
  connection& conn() noexcept { return conn_; }
  boost::asio::io_context& context() noexcept { return ioc_; }

 private:
  boost::asio::io_context ioc_;  // first: outlives conn_
  connection conn_;
  std::chrono::milliseconds timeout_;
};

}  // namespace celeriac::redis
