// lib/http against a real server on loopback: the local OpenAI-compatible
// test server, plain and over TLS with a certificate made for the test.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "http/client.hpp"
#include "support/free_port.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// tests/support/fake_llm_server.py as a child process, killed by PID.
class fake_server {
public:
  explicit fake_server(std::vector<std::string> extra = {}) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      std::string script = std::string(CELERIAC_SOURCE_DIR) + "/tests/support/fake_llm_server.py";
      std::vector<std::string> args{"/usr/bin/python3", script, "--port", "0"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char ch;
    while (::read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
    ::close(out[0]);
    REQUIRE_MESSAGE(line.rfind("LISTENING ", 0) == 0, "fake server did not start: " << line);
    port_ = line.substr(10);
  }
  ~fake_server() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::string url(const char* scheme = "http") const { return std::string(scheme) + "://127.0.0.1:" + port_ + "/v1"; }
  const std::string& port() const { return port_; }

private:
  pid_t pid_ = -1;
  std::string port_;
};

template <class F>
auto run(F f) {
  asio::io_context io;
  auto fut = asio::co_spawn(io, f(io.get_executor()), asio::use_future);
  io.run();
  return fut.get();
}

http::request chat(int merchants = 2) {
  std::string list;
  for (int i = 0; i < merchants; ++i) list += (i ? "," : "") + std::string(R"({"i":)") + std::to_string(i) + R"(,"name":"STARBUCKS"})";
  http::request r;
  r.target = "/chat/completions";
  r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer test-key"}};
  r.body = R"({"model":"m","messages":[{"role":"user","content":"{\"merchants\":[)" + [&] {
    std::string escaped;
    for (char c : list) {
      if (c == '"') escaped += '\\';
      escaped += c;
    }
    return escaped;
  }() + R"(]}"}]})";
  return r;
}

http::response control(const fake_server& s, const std::string& json) {
  return run([&](asio::any_io_executor ex) -> asio::awaitable<http::response> {
    http::client c(ex, {});
    http::request r;
    r.target = "/_control";
    r.body = json;
    auto base = http::parse_url("http://127.0.0.1:" + s.port());
    co_return co_await c.async_request(base, std::move(r));
  });
}

std::string stats(const fake_server& s) {
  return run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    http::client c(ex, {});
    http::request r;
    r.method = "GET";
    r.target = "/_stats";
    auto base = http::parse_url("http://127.0.0.1:" + s.port());
    auto res = co_await c.async_request(base, std::move(r));
    co_return res.body;
  });
}

// A server for one connection that answers with `reply` verbatim, whatever
// was asked, then hangs up: for answers the fake server cannot give.
struct canned_server {
  asio::ip::tcp::acceptor acceptor;
  std::string reply;
  std::string request_host;  // the Host header it received

  canned_server(asio::any_io_executor ex, const char* address, std::string r)
      : acceptor(ex, {asio::ip::make_address(address), 0}), reply(std::move(r)) {}

  std::string url() const {
    const auto ep = acceptor.local_endpoint();
    const std::string host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
    return "http://" + host + ":" + std::to_string(ep.port()) + "/v1";
  }

  asio::awaitable<void> serve_once() {
    namespace beast = boost::beast;
    constexpr auto token = asio::as_tuple(asio::use_awaitable);
    auto [aec, sock] = co_await acceptor.async_accept(token);
    if (aec) co_return;
    beast::flat_buffer buffer;
    beast::http::request<beast::http::string_body> req;
    auto [rec, n] = co_await beast::http::async_read(sock, buffer, req, token);
    (void)n;
    if (rec) co_return;
    request_host = std::string(req[beast::http::field::host]);
    auto [wec, w] = co_await asio::async_write(sock, asio::buffer(reply), token);
    (void)wec;
    (void)w;
    boost::system::error_code ignored;
    sock.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    // Until the client hangs up: closing with its bytes unread would reset
    // the connection and could discard the reply before the client reads it.
    char sink[512];
    for (;;) {
      auto [ec, m] = co_await sock.async_read_some(asio::buffer(sink), token);
      (void)m;
      if (ec) break;
    }
  }
};

// What a request to a canned_server ends with: "200" or the error's kind.
std::string outcome_of(const char* address, std::string reply, http::client_options o = {},
                       std::string* host_seen = nullptr) {
  return run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    auto server = std::make_shared<canned_server>(ex, address, std::move(reply));
    asio::co_spawn(ex, [server]() { return server->serve_once(); }, asio::detached);
    http::client c(ex, o);
    std::string result;
    try {
      auto res = co_await c.async_request(http::parse_url(server->url()), chat());
      result = std::to_string(res.status);
    } catch (const http::error& e) {
      result = http::to_string(e.kind());
    }
    if (host_seen) *host_seen = server->request_host + " at " + server->url();
    co_return result;
  });
}

bool has_ipv6_loopback() {
  std::ifstream in("/proc/net/if_inet6");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("00000000000000000000000000000001", 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("urls") {
  auto u = http::parse_url("https://api.openai.com/v1/");
  CHECK(u.tls);
  CHECK(u.host == "api.openai.com");
  CHECK(u.port == "443");
  CHECK(u.prefix == "/v1");
  auto v = http::parse_url("http://[::1]:8080");
  CHECK(v.host == "::1");
  CHECK(v.port == "8080");
  CHECK(v.prefix.empty());
  CHECK(v.origin() == "http://[::1]:8080");
  for (const char* bad : {"ftp://x", "http://", "http://h:99999", "http://h:x", "https://u:p@h/v1", "http://h/v1?x=1"})
    CHECK_THROWS_AS(http::parse_url(bad), std::invalid_argument);
}

TEST_CASE("a POST round trip on one kept-alive connection") {
  fake_server s;
  auto [status, body, opened] =
      run([&](asio::any_io_executor ex) -> asio::awaitable<std::tuple<unsigned, std::string, std::size_t>> {
        http::client c(ex, {});
        auto base = http::parse_url(s.url());
        http::response last;
        for (int i = 0; i < 10; ++i) last = co_await c.async_request(base, chat());
        co_return std::tuple{last.status, last.body, c.connections_opened()};
      });
  CHECK(status == 200);
  CHECK(body.find("\"usage\"") != std::string::npos);
  CHECK(body.find("SBUX") != std::string::npos);
  CHECK(opened == 1);
  CHECK(stats(s).find("\"Bearer test-key\"") != std::string::npos);
}

TEST_CASE("eight requests in flight at once") {
  fake_server s({"--latency-ms", "300"});
  auto answered = run([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    using namespace asio::experimental::awaitable_operators;
    http::client c(ex, {});
    auto base = http::parse_url(s.url());
    auto one = [&]() -> asio::awaitable<int> {
      auto r = co_await c.async_request(base, chat());
      co_return r.status == 200 ? 1 : 0;
    };
    auto [a, b, cc, d, e, f, g, h] = co_await (one() && one() && one() && one() && one() && one() && one() && one());
    co_return a + b + cc + d + e + f + g + h;
  });
  CHECK(answered == 8);
  CHECK(stats(s).find("\"in_flight_max\": 8") != std::string::npos);
}

TEST_CASE("connect refused, timeouts, and the client still works after a timeout") {
  const auto port = test::free_port();
  auto refused = run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
    http::client c(ex, {});
    try {
      co_await c.async_request(http::parse_url("http://127.0.0.1:" + std::to_string(port) + "/v1"), chat());
    } catch (const http::error& e) {
      co_return std::string(http::to_string(e.kind()));
    }
    co_return std::string("no error");
  });
  CHECK(refused == "connect");

  fake_server s;
  control(s, R"({"mode": "slow", "latency_ms": 1500, "count": 1})");
  auto [first, second] = run([&](asio::any_io_executor ex) -> asio::awaitable<std::pair<std::string, unsigned>> {
    http::client_options o;
    o.request_timeout = 400ms;
    http::client c(ex, o);
    auto base = http::parse_url(s.url());
    std::string kind = "no error";
    try {
      co_await c.async_request(base, chat());
    } catch (const http::error& e) {
      kind = http::to_string(e.kind());
    }
    auto again = co_await c.async_request(base, chat());
    co_return std::pair{kind, again.status};
  });
  CHECK(first == "timeout");
  CHECK(second == 200);
}

TEST_CASE("a 429 is a response with its Retry-After; retrying is the caller's business") {
  fake_server s;
  control(s, R"({"mode": "status429", "retry_after": "7", "count": 1})");
  auto res = run([&](asio::any_io_executor ex) -> asio::awaitable<http::response> {
    http::client c(ex, {});
    co_return co_await c.async_request(http::parse_url(s.url()), chat());
  });
  CHECK(res.status == 429);
  CHECK(res.header("retry-after") == std::optional<std::string>("7"));
  CHECK(res.header("RETRY-AFTER") == std::optional<std::string>("7"));
}

TEST_CASE("a server that closes kept-alive connections: the next request uses a new one") {
  // true: closed without a word, so the client finds out when it reuses the
  // connection (and sends the request once more on a new one); "announced":
  // "Connection: close", so the client does not keep it.
  for (const std::string how : {"true", "\"announced\""}) {
    CAPTURE(how);
    fake_server s;
    control(s, R"({"close_after_response": )" + how + "}");
    auto [ok, opened] = run([&](asio::any_io_executor ex) -> asio::awaitable<std::pair<int, std::size_t>> {
      http::client c(ex, {});
      auto base = http::parse_url(s.url());
      int n = 0;
      for (int i = 0; i < 3; ++i) {
        auto r = co_await c.async_request(base, chat());
        n += r.status == 200;
      }
      co_return std::pair{n, c.connections_opened()};
    });
    CHECK(ok == 3);
    CHECK(opened == 3);
    CHECK(stats(s).find("\"requests\": 3,") != std::string::npos);
  }
}

TEST_CASE("HTTPS: verified with the CA file, refused without it") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("celeriac-http-tls-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + key +
                          " -out " + cert + " -addext subjectAltName=IP:127.0.0.1,DNS:localhost > /dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  {
    fake_server s({"--tls-cert", cert, "--tls-key", key});
    auto ok = run([&](asio::any_io_executor ex) -> asio::awaitable<unsigned> {
      http::client_options o;
      o.ca_file = cert;
      http::client c(ex, o);
      auto r = co_await c.async_request(http::parse_url(s.url("https")), chat());
      co_return r.status;
    });
    CHECK(ok == 200);
    auto refused = run([&](asio::any_io_executor ex) -> asio::awaitable<std::string> {
      http::client c(ex, {});
      try {
        co_await c.async_request(http::parse_url(s.url("https")), chat());
      } catch (const http::error& e) {
        co_return std::string(http::to_string(e.kind())) + ": " + e.what();
      }
      co_return std::string("no error");
    });
    CHECK(refused.rfind("tls: ", 0) == 0);
    CHECK(refused.find("--llm-ca-file") != std::string::npos);
  }
  http::client_options missing;
  missing.ca_file = "/nonexistent.pem";
  CHECK_THROWS_AS(http::client(asio::io_context().get_executor(), missing), http::error);
  fs::remove_all(dir);
}

TEST_CASE("answers that are not HTTP, cut short, or too large") {
  CHECK(outcome_of("127.0.0.1", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") == "200");
  CHECK(outcome_of("127.0.0.1", "SSH-2.0-OpenSSH_9.2\r\n\r\n") == "protocol");
  CHECK(outcome_of("127.0.0.1", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some") == "closed");
  CHECK(outcome_of("127.0.0.1", "") == "closed");
  http::client_options small;
  small.max_body_bytes = 100;
  CHECK(outcome_of("127.0.0.1", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x'),
                   small) == "protocol");
}

TEST_CASE("an IPv6 origin gets a bracketed Host header") {
  if (!has_ipv6_loopback()) {
    MESSAGE("no IPv6 loopback here: skipped");
    return;
  }
  std::string host_seen;
  CHECK(outcome_of("::1", "HTTP/1.1 204 No Content\r\n\r\n", {}, &host_seen) == "204");
  // "[::1]:<port> at http://[::1]:<port>/v1"
  const auto at = host_seen.find(" at http://");
  REQUIRE(at != std::string::npos);
  CHECK(host_seen.substr(0, at) + "/v1" == host_seen.substr(at + 11));
  CHECK(host_seen.rfind("[::1]:", 0) == 0);
}
