#include "http/url.hpp"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace celeriac::http {

std::string url::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

url parse_url(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return std::invalid_argument(fmt::format("URL '{}' {}: write it as http[s]://host[:port][/path]", text, why));
  };
  url u;
  std::string_view rest;
  if (text.substr(0, 8) == "https://") {
    u.tls = true;
    rest = text.substr(8);
  } else if (text.substr(0, 7) == "http://") {
    rest = text.substr(7);
  } else {
    throw bad("does not start with http:// or https://");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) throw bad("has a query or fragment");
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) throw bad("carries credentials; put keys in api_key_env");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw bad("has an unclosed '[' in its host");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw bad("has text after its IPv6 host");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) throw bad("has no host");
  if (port.empty()) {
    u.port = u.tls ? "443" : "80";
  } else {
    unsigned n = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || p != port.data() + port.size() || n == 0 || n > 65535) throw bad("has a bad port");
    u.port = std::to_string(n);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  u.prefix = std::string(path);
  return u;
}

}  // namespace celeriac::http
