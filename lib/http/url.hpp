#pragma once
// An endpoint as configured: "https://api.openai.com/v1" is TLS to
// api.openai.com:443 with the target prefix "/v1". Pure.

#include <string>
#include <string_view>

namespace celeriac::http {

struct url {
  bool tls = false;
  std::string host;    // without brackets for IPv6
  std::string port;    // "443", "80" or as written
  std::string prefix;  // "" or "/v1": requests' targets are appended to it

  // "https://host:port": the key connections are pooled under.
  std::string origin() const;
};

// Parses http:// and https:// URLs with an optional port and path; throws
// std::invalid_argument saying what is wrong with the text otherwise
// (another scheme, no host, a bad port, a query or fragment).
url parse_url(std::string_view text);

}  // namespace celeriac::http
