#pragma once
// How an HTTP request failed, for the caller's retry policy: connect and
// timeout and closed are worth another try; tls is a configuration problem;
// protocol means the server did not speak HTTP as expected.

#include <stdexcept>
#include <string>

namespace celeriac::http {

enum class error_kind { connect, timeout, tls, protocol, closed };

const char* to_string(error_kind k) noexcept;

class error : public std::runtime_error {
public:
  error(error_kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  error_kind kind() const noexcept { return kind_; }

private:
  error_kind kind_;
};

}  // namespace celeriac::http
