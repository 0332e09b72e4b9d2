#include "redis/config.hpp"
#include "redis/error.hpp"

#include <doctest/doctest.h>

using celeriac::redis::config;
using celeriac::redis::error;
using celeriac::redis::parse_url;

namespace {

config parse_ok(std::string_view url) {
  auto r = parse_url(url);
  REQUIRE_MESSAGE(r.has_value(), url, ": ", r.error().message());
  return *r;
}

boost::system::error_code parse_err(std::string_view url) {
  auto r = parse_url(url);
  REQUIRE_MESSAGE(r.has_error(), url, " parsed but should not");
  return r.error();
}

}  // namespace

TEST_CASE("parse_url fills defaults") {
  auto c = parse_ok("redis://localhost");
  CHECK(c.host == "localhost");
  CHECK(c.port == 6379);
  CHECK(c.db == 0);
  CHECK(c.username.empty());
  CHECK(c.password.empty());
  CHECK(parse_ok("redis://").host == "localhost");
  CHECK(parse_ok("redis://h/").db == 0);
  CHECK(parse_ok("REDIS://h").host == "h");
}

TEST_CASE("parse_url reads host, port and db") {
  auto c = parse_ok("redis://10.0.0.5:6380/3");
  CHECK(c.host == "10.0.0.5");
  CHECK(c.port == 6380);
  CHECK(c.db == 3);
  auto v6 = parse_ok("redis://[::1]:7000/1");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 7000);
  CHECK(v6.db == 1);
  CHECK(parse_ok("redis://[fe80::1]").port == 6379);
  CHECK(parse_ok("redis://h:65535").port == 65535);
  CHECK(parse_ok("redis://h/2147483647").db == 2147483647);
  CHECK(parse_ok("redis://:6390").host == "localhost");
}

TEST_CASE("parse_url reads credentials, with escapes and '@' in the password") {
  auto pw = parse_ok("redis://:s3cret@h:1/0");
  CHECK(pw.username.empty());
  CHECK(pw.password == "s3cret");
  auto acl = parse_ok("redis://worker:pa%3Ass%40w0rd@h");
  CHECK(acl.username == "worker");
  CHECK(acl.password == "pa:ss@w0rd");
  CHECK(parse_ok("redis://:p@ss@h").password == "p@ss");
  CHECK(parse_ok("redis://@h").password.empty());
  CHECK(parse_ok("redis://:@h").password.empty());
}

TEST_CASE("parse_url rejects bad URLs with a specific error") {
  CHECK(parse_err("rediss://h") == error::bad_url_scheme);
  CHECK(parse_err("unix:///tmp/redis.sock") == error::bad_url_scheme);
  CHECK(parse_err("http://h") == error::bad_url_scheme);
  CHECK(parse_err("h:6379") == error::bad_url_scheme);
  CHECK(parse_err("") == error::bad_url_scheme);
  CHECK(parse_err("redis://h:0") == error::bad_url_port);
  CHECK(parse_err("redis://h:65536") == error::bad_url_port);
  CHECK(parse_err("redis://h:") == error::bad_url_port);
  CHECK(parse_err("redis://h:-1") == error::bad_url_port);
  CHECK(parse_err("redis://h:12ab") == error::bad_url_port);
  CHECK(parse_err("redis://h:+80") == error::bad_url_port);
  CHECK(parse_err("redis://h/x") == error::bad_url_db);
  CHECK(parse_err("redis://h/-1") == error::bad_url_db);
  CHECK(parse_err("redis://h/2147483648") == error::bad_url_db);
  CHECK(parse_err("redis://h/0/1") == error::bad_url_db);
  CHECK(parse_err("redis://user@h") == error::bad_url_credentials);
  CHECK(parse_err("redis://user:@h") == error::bad_url_credentials);
  CHECK(parse_err("redis://h?db=1") == error::bad_url_options);
  CHECK(parse_err("redis://h/0#x") == error::bad_url_options);
  CHECK(parse_err("redis://:pa%zz@h") == error::bad_url_escape);
  CHECK(parse_err("redis://:pa%4@h") == error::bad_url_escape);
  CHECK(parse_err("redis://[::1") == error::bad_url_host);
  CHECK(parse_err("redis://[]:1") == error::bad_url_host);
  CHECK(parse_err("redis://[::1]x") == error::bad_url_host);
}

TEST_CASE("URL errors explain themselves") {
  CHECK(parse_err("rediss://h").message().find("redis://") != std::string::npos);
  CHECK(parse_err("redis://h:0").message().find("65535") != std::string::npos);
  CHECK(std::string_view{parse_err("redis://h:0").category().name()} == "celeriac.redis");
}

TEST_CASE("to_string never shows the password") {
  auto c = parse_ok("redis://worker:hunter2@cache.internal:6380/4");
  const auto s = to_string(c);
  CHECK(s == "redis://worker:***@cache.internal:6380/4");
  CHECK(s.find("hunter2") == std::string::npos);
  CHECK(to_string(parse_ok("redis://:hunter2@h")) == "redis://:***@h:6379/0");
  CHECK(to_string(parse_ok("redis://h:1/2")) == "redis://h:1/2");
  CHECK(to_string(parse_ok("redis://[::1]:7000")) == "redis://[::1]:7000/0");
}
