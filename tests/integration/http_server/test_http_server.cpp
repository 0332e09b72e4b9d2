// The /metrics HTTP server on a real loopback socket, driven with raw
// request bytes from a blocking client on the test thread while the
// server's io_context runs on its own thread.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "http_server/metrics_route.hpp"
#include "http_server/server.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace celeriac::http_server;

namespace {

// A server on 127.0.0.1:<any port> whose exposition is "up 1\n" plus a
// scrape count (or an exception when `fail` is set).
class fixture {
public:
  explicit fixture(limits lim = {}) {
    srv_.emplace(io_.get_executor(), "127.0.0.1", 0,
                 metrics_handler([this]() -> asio::awaitable<std::string> {
                   if (fail) throw std::runtime_error("Redis is away");
                   co_return "up 1\nscrapes " + std::to_string(++scrapes) + "\n";
                 }),
                 lim);
    srv_->start();
    port = srv_->local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~fixture() {
    asio::post(io_, [this] { srv_->stop(); });
    io_.stop();
    thread_.join();
  }

  std::uint16_t port = 0;
  std::atomic<int> scrapes{0};
  std::atomic<bool> fail{false};

private:
  asio::io_context io_;
  std::optional<server> srv_;
  std::thread thread_;
};

class client {
public:
  explicit client(std::uint16_t port) : sock_(io_) { sock_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)); }
  void send(const std::string& bytes) { asio::write(sock_, asio::buffer(bytes)); }
  // One kept-alive GET and its response.
  std::string get(const std::string& path = "/metrics") {
    send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    return response();
  }
  // One response: its head and a Content-Length body.
  std::string response() {
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) head += read_some();
    const auto end = head.find("\r\n\r\n") + 4;
    std::string body = head.substr(end);
    head.resize(end);
    const auto cl = head.find("Content-Length: ");
    REQUIRE(cl != std::string::npos);
    const std::size_t length = std::stoul(head.substr(cl + 16));
    while (body.size() < length) body += read_some();
    return head + body;
  }
  // True when the server closed the connection (reads EOF).
  bool closed() {
    boost::system::error_code ec;
    char c;
    sock_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

private:
  std::string read_some() {
    char buf[4096];
    const std::size_t n = sock_.read_some(asio::buffer(buf));
    return std::string(buf, n);
  }
  asio::io_context io_;
  tcp::socket sock_;
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("GET /metrics answers the exposition with Prometheus's content type, on a kept-alive connection") {
  fixture f;
  client c(f.port);
  std::string r = c.get("/metrics");
  CHECK(r.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(contains(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  CHECK(r.ends_with("\r\n\r\nup 1\nscrapes 1\n"));
  r = c.get("/metrics?x=1");
  CHECK(r.ends_with("scrapes 2\n"));
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  r = c.response();
  CHECK(contains(r, "Connection: close"));
  CHECK(c.closed());
}

TEST_CASE("other paths are 404, other methods 405 with Allow") {
  fixture f;
  client c(f.port);
  std::string r = c.get("/");
  CHECK(r.starts_with("HTTP/1.1 404 Not Found\r\n"));
  c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
  r = c.response();
  CHECK(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  CHECK(contains(r, "Allow: GET\r\n"));
  CHECK(f.scrapes == 0);
}

TEST_CASE("HTTP/1.0 without keep-alive is answered and closed") {
  fixture f;
  client c(f.port);
  c.send("GET /metrics HTTP/1.0\r\n\r\n");
  std::string r = c.response();
  CHECK(r.starts_with("HTTP/1.0 200 OK\r\n"));
  CHECK(c.closed());
}

TEST_CASE("a failing exposition is a 500 with the reason, and the server keeps serving") {
  fixture f;
  f.fail = true;
  client c(f.port);
  std::string r = c.get("/metrics");
  CHECK(r.starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
  CHECK(r.ends_with("metrics unavailable: Redis is away\n"));
  f.fail = false;
  CHECK(c.get("/metrics").ends_with("scrapes 1\n"));
}

TEST_CASE("garbage and oversized requests get 400 and a closed connection") {
  fixture f;
  {
    client c(f.port);
    c.send("HELLO THERE\r\n\r\n");
    std::string r = c.response();
    CHECK(r.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(c.closed());
  }
  {
    client c(f.port);
    c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
    CHECK(c.response().starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(c.closed());
  }
  client ok(f.port);
  CHECK(ok.get("/metrics").starts_with("HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("connections beyond the limit are closed at once; the others are served") {
  limits lim;
  lim.max_connections = 1;
  fixture f(lim);
  client first(f.port);
  CHECK(first.get("/metrics").starts_with("HTTP/1.1 200 OK\r\n"));
  client second(f.port);
  CHECK(second.closed());
  CHECK(first.get("/metrics").starts_with("HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("a taken port or a bad address fails at construction, naming it") {
  asio::io_context io;
  server a(io.get_executor(), "127.0.0.1", 0, metrics_handler([]() -> asio::awaitable<std::string> { co_return ""; }));
  const auto port = a.local_endpoint().port();
  try {
    server b(io.get_executor(), "127.0.0.1", port, metrics_handler([]() -> asio::awaitable<std::string> { co_return ""; }));
    FAIL("binding a taken port must throw");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), "127.0.0.1:" + std::to_string(port)));
    CHECK(contains(e.what(), "bind"));
  }
  CHECK_THROWS_WITH_AS(server(io.get_executor(), "localhost:80", 0, nullptr),
                       doctest::Contains("not an IP address"), std::runtime_error);
}
