#include "redis/config.hpp"

#include "redis/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <climits>

namespace celeriac::redis {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII letters only: enough for a scheme
         });
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; false on a truncated or non-hex escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_digit(in[i + 1]);
    const int lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

// Parses all of `s` as a non-negative decimal not above `max`.
bool parse_number(std::string_view s, long long max, long long& out) noexcept {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && out <= max;
}

}  // namespace

boost::system::result<config> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.size() < scheme.size() || !iequals(url.substr(0, scheme.size()), scheme)) {
    return error::bad_url_scheme;
  }
  std::string_view rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) return error::bad_url_options;

  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);

  config cfg;
  // The last '@' ends the credentials, as in Python's urllib (which kombu
  // uses), so an unescaped '@' in a password still works.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    if (!userinfo.empty()) {
      const auto colon = userinfo.find(':');
      if (colon == std::string_view::npos) return error::bad_url_credentials;
      if (!percent_decode(userinfo.substr(0, colon), cfg.username) ||
          !percent_decode(userinfo.substr(colon + 1), cfg.password)) {
        return error::bad_url_escape;
      }
      if (!cfg.username.empty() && cfg.password.empty()) return error::bad_url_credentials;
    }
  }

  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return error::bad_url_host;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return error::bad_url_host;
      port = after.substr(1);
      has_port = true;
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    has_port = true;
  }
  if (host.find_first_of("[]:@ ") != std::string_view::npos && !authority.starts_with('[')) {
    return error::bad_url_host;
  }
  if (!host.empty()) cfg.host = std::string{host};
  if (has_port) {
    long long n = 0;
    if (!parse_number(port, 65535, n) || n == 0) return error::bad_url_port;
    cfg.port = static_cast<std::uint16_t>(n);
  }

  if (path.size() > 1) {
    long long n = 0;
    if (!parse_number(path.substr(1), INT_MAX, n)) return error::bad_url_db;
    cfg.db = static_cast<int>(n);
  }
  return cfg;
}

std::string to_string(const config& cfg, std::string_view mask) {
  std::string userinfo;
  if (!cfg.password.empty()) userinfo = fmt::format("{}:{}@", cfg.username, mask);
  const bool ipv6 = cfg.host.find(':') != std::string::npos;
  return fmt::format("redis://{}{}{}{}:{}/{}", userinfo, ipv6 ? "[" : "", cfg.host, ipv6 ? "]" : "",
                     cfg.port, cfg.db);
}

}  // namespace celeriac::redis
