#include "http/client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/format.h>

namespace celeriac::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// One request out, one response in, on a plain or a TLS stream.
template <class Stream>
asio::awaitable<boost::system::error_code> write_then_read(Stream& stream, bhttp::request<bhttp::string_body>& req,
                                                           beast::flat_buffer& buffer,
                                                           bhttp::response_parser<bhttp::string_body>& parser) {
  auto [wec, written] = co_await bhttp::async_write(stream, req, token);
  (void)written;
  if (wec) co_return wec;
  auto [rec, read] = co_await bhttp::async_read(stream, buffer, parser, token);
  (void)read;
  co_return rec;
}

}  // namespace

std::optional<std::string> response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

struct client::tls_context {
  asio::ssl::context ctx{asio::ssl::context::tls_client};
};

struct client::connection {
  std::string origin;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

client::client(asio::any_io_executor ex, client_options options)
    : ex_(std::move(ex)), options_(std::move(options)), tls_(std::make_unique<tls_context>()) {
  boost::system::error_code ec;
  tls_->ctx.set_default_verify_paths(ec);
  if (!options_.ca_file.empty()) {
    tls_->ctx.load_verify_file(options_.ca_file, ec);
    if (ec)
      throw error(error_kind::tls,
                  fmt::format("cannot load the CA file {}: {}", options_.ca_file, ec.message()));
  }
  tls_->ctx.set_verify_mode(options_.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
}

client::~client() = default;

asio::awaitable<std::unique_ptr<client::connection>> client::async_connect(const url& base) {
  auto c = std::make_unique<connection>();
  c->origin = base.origin();
  c->plain = std::make_unique<beast::tcp_stream>(ex_);
  beast::tcp_stream& stream = *c->plain;

  // A resolver has no deadline of its own: a timer cancels it. Shared, as
  // the timer's handler may already be queued when the resolve completes.
  auto resolver = std::make_shared<tcp::resolver>(ex_);
  asio::steady_timer deadline(ex_, options_.connect_timeout);
  deadline.async_wait([resolver](boost::system::error_code ec) {
    if (!ec) resolver->cancel();
  });
  auto resolving = resolver->async_resolve(base.host, base.port, token);
  auto [rec, endpoints] = co_await std::move(resolving);
  const bool resolve_timed_out = deadline.expiry() <= asio::steady_timer::clock_type::now();
  deadline.cancel();
  if (rec && resolve_timed_out)
    throw error(error_kind::timeout, fmt::format("resolving {} took longer than {} ms", c->origin,
                                                 options_.connect_timeout.count()));
  if (rec) throw error(error_kind::connect, fmt::format("cannot resolve {}: {}", c->origin, rec.message()));
  stream.expires_after(options_.connect_timeout);
  auto [cec, ep] = co_await stream.async_connect(endpoints, token);
  (void)ep;
  if (cec == beast::error::timeout)
    throw error(error_kind::timeout, fmt::format("connecting to {} took longer than {} ms", c->origin,
                                                 options_.connect_timeout.count()));
  if (cec) throw error(error_kind::connect, fmt::format("cannot connect to {}: {}", c->origin, cec.message()));
  stream.socket().set_option(tcp::no_delay(true));
  ++opened_;
  if (!base.tls) {
    stream.expires_never();
    co_return c;
  }

  c->secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(stream), tls_->ctx);
  c->plain.reset();
  if (!is_ip_literal(base.host) && !SSL_set_tlsext_host_name(c->secure->native_handle(), base.host.c_str()))
    throw error(error_kind::tls, fmt::format("cannot set the TLS server name for {}", c->origin));
  if (options_.verify_peer) c->secure->set_verify_callback(asio::ssl::host_name_verification(base.host));
  beast::get_lowest_layer(*c->secure).expires_after(options_.connect_timeout);
  auto [hec] = co_await c->secure->async_handshake(asio::ssl::stream_base::client, token);
  if (hec == beast::error::timeout)
    throw error(error_kind::timeout, fmt::format("the TLS handshake with {} took longer than {} ms", c->origin,
                                                 options_.connect_timeout.count()));
  if (hec)
    throw error(error_kind::tls,
                fmt::format("TLS handshake with {} failed: {}{}", c->origin, hec.message(),
                            hec.category() == asio::error::get_ssl_category()
                                ? " (if the server's certificate comes from a private CA, add it with --llm-ca-file "
                                  "or the provider's ca_file)"
                                : ""));
  beast::get_lowest_layer(*c->secure).expires_never();
  co_return c;
}

asio::awaitable<response> client::async_exchange(connection& c, const url& base, const request& r, bool& got_some) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(r.method);
  req.target(base.prefix + r.target);
  req.version(11);
  const bool default_port = base.port == (base.tls ? "443" : "80");
  const std::string host = base.host.find(':') != std::string::npos ? "[" + base.host + "]" : base.host;
  req.set(bhttp::field::host, default_port ? host : host + ":" + base.port);
  req.set(bhttp::field::user_agent, options_.user_agent);
  for (const auto& [k, v] : r.headers) req.set(k, v);
  req.body() = r.body;
  req.prepare_payload();
  req.keep_alive(true);

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(options_.max_body_bytes);
  c.lowest().expires_after(options_.request_timeout);
  boost::system::error_code ec;
  if (c.secure)
    ec = co_await write_then_read(*c.secure, req, c.buffer, parser);
  else
    ec = co_await write_then_read(*c.plain, req, c.buffer, parser);
  got_some = parser.got_some();
  if (ec == beast::error::timeout)
    throw error(error_kind::timeout, fmt::format("timed out: {} {}{} did not answer within {} ms", r.method, c.origin,
                                                 base.prefix + r.target, options_.request_timeout.count()));
  if (ec == bhttp::error::body_limit)
    throw error(error_kind::protocol, fmt::format("the answer from {} is larger than {} bytes", c.origin,
                                                  options_.max_body_bytes));
  if (ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated)
    throw error(error_kind::closed, fmt::format("{} closed the connection before answering: {}", c.origin,
                                                ec.message()));
  if (ec == bhttp::error::partial_message)
    throw error(error_kind::closed, fmt::format("{} closed the connection in the middle of its answer", c.origin));
  if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category())
    throw error(error_kind::protocol, fmt::format("{} sent a malformed HTTP answer: {}", c.origin, ec.message()));
  if (ec) throw error(error_kind::closed, fmt::format("talking to {} failed: {}", c.origin, ec.message()));
  c.lowest().expires_never();

  auto& res = parser.get();
  response out;
  out.status = res.result_int();
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  if (!res.keep_alive()) c.origin.clear();  // not to be pooled
  co_return out;
}

asio::awaitable<response> client::async_request(const url& base, request r) {
  const std::string origin = base.origin();
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<connection> c;
    bool pooled = false;
    auto& idle = idle_[origin];
    // The retry after a stale connection takes a new one: the other idle
    // connections are as old as the one that failed.
    if (attempt == 0 && !idle.empty()) {
      c = std::move(idle.back());
      idle.pop_back();
      pooled = true;
    } else {
      c = co_await async_connect(base);
    }
    bool got_some = false;
    std::optional<response> res;
    std::optional<error> failure;
    try {
      res = co_await async_exchange(*c, base, r, got_some);
    } catch (const error& e) {
      failure = e;
    }
    if (res) {
      if (!c->origin.empty() && idle_[origin].size() < options_.max_idle_per_origin)
        idle_[origin].push_back(std::move(c));
      co_return std::move(*res);
    }
    // A kept-alive connection the server closed meanwhile: once more on a
    // new one, if nothing of an answer arrived.
    const bool stale = pooled && !got_some && failure->kind() == error_kind::closed;
    if (!stale || attempt > 0) throw *failure;
  }
}

}  // namespace celeriac::http
