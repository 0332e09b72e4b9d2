#pragma once
// An HTTP/1.1 client on Boost.Beast, running on the caller's Asio
// executor: coroutines, keep-alive connections pooled per origin, TLS via
// OpenSSL with certificate and host name verification, connect and request
// timeouts that really cancel.
//
//   http::client c{io.get_executor(), {.request_timeout = 30s}};
//   http::url base = http::parse_url("https://api.openai.com/v1");
//   http::request r{.method = "POST", .target = "/chat/completions", .headers = {...}, .body = json};
//   http::response res = co_await c.async_request(base, std::move(r));
//
// Any status is a response (retry policy is the caller's); failures to get
// one throw http::error with its kind. A pooled connection the server has
// closed meanwhile is detected when a request on it fails before any byte
// of the answer arrived: the request is then sent once more, on a newly
// opened connection. (A POST that reached a server which then dropped the
// connection without answering could in principle be processed twice; the
// chat-completions calls made here are safe to repeat.)
//
// Not thread-safe: use one client from one executor (one thread).

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "http/error.hpp"
#include "http/url.hpp"

namespace celeriac::http {

struct request {
  std::string method = "POST";
  std::string target;  // appended to the url's prefix, e.g. "/chat/completions"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Case-insensitive lookup of a header's value.
  std::optional<std::string> header(std::string_view name) const;
};

struct client_options {
  std::chrono::milliseconds connect_timeout{5000};   // resolve + TCP + TLS handshake
  std::chrono::milliseconds request_timeout{60000};  // write + read of one request
  std::string ca_file;                                // extra CA certificates (PEM) besides the system store
  bool verify_peer = true;
  std::size_t max_idle_per_origin = 16;
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::string user_agent = "celeriac";
};

class client {
public:
  // Throws http::error(tls) when ca_file cannot be loaded.
  client(boost::asio::any_io_executor ex, client_options options);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  boost::asio::awaitable<response> async_request(const url& base, request r);

  // Connections opened so far (for tests of keep-alive reuse).
  std::size_t connections_opened() const noexcept { return opened_; }

private:
  struct connection;
  boost::asio::awaitable<std::unique_ptr<connection>> async_connect(const url& base);
  boost::asio::awaitable<response> async_exchange(connection& c, const url& base, const request& r, bool& got_some);

  boost::asio::any_io_executor ex_;
  client_options options_;
  struct tls_context;
  std::unique_ptr<tls_context> tls_;
  std::map<std::string, std::vector<std::unique_ptr<connection>>> idle_;
  std::size_t opened_ = 0;
};

}  // namespace celeriac::http
