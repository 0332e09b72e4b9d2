#pragma once
// A small HTTP/1.1 server on Boost.Beast, for read-only endpoints such as
// /metrics. It runs on the executor it is given (one io_context thread:
// nothing is locked); each connection is a coroutine that reads a request,
// asks the handler for the response, writes it, and keeps the connection
// for the next request while the client wants it (Prometheus does).
//
// Defensive by default, since anything on the network may connect: request
// heads are limited to 8 KiB and bodies to 4 KiB, an idle or slow client is
// dropped after 30 s, and past 32 open connections new ones are closed at
// once. A request that does not parse gets 400 and the connection closed.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace celeriac::http_server {

struct response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;  // the Allow header, for 405
};

// Called once per request, on the server's executor. `target` is the
// request target as sent (path and query).
using handler = std::function<boost::asio::awaitable<response>(std::string_view method, std::string_view target)>;

struct limits {
  std::size_t max_connections = 32;
  std::chrono::seconds idle_timeout{30};  // per read and per write
};

class server {
public:
  // Binds `address` (an IPv4 or IPv6 literal) and `port` (0: any free one)
  // and listens at once, so a taken port fails here, at start-up. Throws
  // std::runtime_error saying which address could not be used and why.
  server(boost::asio::any_io_executor ex, const std::string& address, std::uint16_t port, handler h,
         limits lim = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Starts accepting (a coroutine on the executor).
  void start();
  // Stops accepting; open connections end with their current request.
  // Call on the executor.
  void stop();

  boost::asio::ip::tcp::endpoint local_endpoint() const;

private:
  struct state;
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<state> s);
  static boost::asio::awaitable<void> session(std::shared_ptr<state> s, boost::asio::ip::tcp::socket socket);

  std::shared_ptr<state> state_;
};

}  // namespace celeriac::http_server
