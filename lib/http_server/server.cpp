#include "http_server/server.hpp"

#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "util/log.hpp"

namespace celeriac::http_server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint32_t max_header_bytes = 8 * 1024;
constexpr std::uint64_t max_body_bytes = 4 * 1024;

std::string_view reason_text(unsigned status) {
  return http::obsolete_reason(static_cast<http::status>(status));
}

http::response<http::string_body> to_beast(response r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "celeriac");
  res.set(http::field::content_type, r.content_type);
  if (!r.allow.empty()) res.set(http::field::allow, r.allow);
  res.keep_alive(keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

}  // namespace

struct server::state {
  state(asio::any_io_executor ex, handler h, limits l) : acceptor(ex), on_request(std::move(h)), lim(l) {}
  tcp::acceptor acceptor;
  handler on_request;
  limits lim;
  std::size_t open = 0;  // connections being served
  bool stopped = false;
};

server::server(asio::any_io_executor ex, const std::string& address, std::uint16_t port, handler h, limits lim)
    : state_(std::make_shared<state>(ex, std::move(h), lim)) {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("cannot serve HTTP on '{}': not an IP address (give one such as 127.0.0.1, 0.0.0.0 or ::1)",
                    address));
  const tcp::endpoint ep(ip, port);
  auto& a = state_->acceptor;
  auto fail = [&](std::string_view step) {
    return std::runtime_error(fmt::format("cannot serve HTTP on {}:{}: {} failed: {}", address, port, step,
                                          ec.message()));
  };
  if (a.open(ep.protocol(), ec); ec) throw fail("socket");
  // A restarted process must be able to bind again while the last one's
  // connections linger in TIME_WAIT.
  if (a.set_option(tcp::acceptor::reuse_address(true), ec); ec) throw fail("SO_REUSEADDR");
  if (a.bind(ep, ec); ec) throw fail("bind");
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec) throw fail("listen");
}

server::~server() {
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
}

tcp::endpoint server::local_endpoint() const { return state_->acceptor.local_endpoint(); }

void server::start() { asio::co_spawn(state_->acceptor.get_executor(), accept_loop(state_), asio::detached); }

void server::stop() {
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
}

asio::awaitable<void> server::accept_loop(std::shared_ptr<state> s) {
  while (!s->stopped) {
    boost::system::error_code ec;
    tcp::socket socket = co_await s->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (s->stopped || ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: say so, and keep accepting (not in a hot loop).
      log::warning("HTTP server: accept failed: {}", ec.message());
      asio::steady_timer pause(s->acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (s->open >= s->lim.max_connections) {
      socket.close(ec);  // over the limit: refuse rather than queue
      continue;
    }
    asio::co_spawn(s->acceptor.get_executor(), session(s, std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> server::session(std::shared_ptr<state> s, tcp::socket socket) {
  ++s->open;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  while (!s->stopped) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_header_bytes);
    parser.body_limit(max_body_bytes);
    stream.expires_after(s->lim.idle_timeout);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof)
      break;
    if (ec) {
      // Not HTTP, or over the limits: answer 400 and close.
      response bad{400, "text/plain; charset=utf-8", fmt::format("bad request: {}\n", ec.message()), {}};
      auto res = to_beast(std::move(bad), 11, false);
      stream.expires_after(s->lim.idle_timeout);
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    const auto& req = parser.get();
    const std::string method(req.method_string());
    const std::string target(req.target());
    response r = co_await s->on_request(method, target);
    if (r.body.empty() && r.status >= 400) r.body = fmt::format("{} {}\n", r.status, reason_text(r.status));
    const bool keep_alive = req.keep_alive() && !s->stopped;
    auto res = to_beast(std::move(r), req.version(), keep_alive);
    stream.expires_after(s->lim.idle_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  --s->open;
}

}  // namespace celeriac::http_server
