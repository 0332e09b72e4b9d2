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

#include <boost/asio/co_spawn.hpp>
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
  fake_server s;
  control(s, R"({"close_after_response": true})");
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
