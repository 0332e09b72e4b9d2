#include "redis/error.hpp"

#include <string>

namespace celeriac::redis {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "celeriac.redis"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::bad_url_scheme:
        return "Redis URL must start with redis:// (rediss:// and unix:// are not supported)";
      case error::bad_url_host:
        return "Redis URL has a malformed host; use redis://host:port/db";
      case error::bad_url_port:
        return "Redis URL port must be a number from 1 to 65535";
      case error::bad_url_db:
        return "Redis URL path must be /<db> with db a non-negative number";
      case error::bad_url_credentials:
        return "Redis URL gives a user name without a password; use redis://user:password@host";
      case error::bad_url_options:
        return "Redis URL options (?...) and fragments (#...) are not supported";
      case error::bad_url_escape:
        return "Redis URL user name or password has a malformed %-escape";
      case error::connect_timeout:
        return "timed out connecting to Redis (TCP connect, AUTH and SELECT)";
      case error::auth_failed:
        return "Redis refused AUTH; check the user name and password in the URL";
      case error::handshake_failed:
        return "Redis refused a connection set-up command (SELECT or SUBSCRIBE)";
      case error::not_connected:
        return "the Redis connection is not open; connect or reconnect first";
      case error::closed:
        return "the Redis connection was closed while the request was waiting";
      case error::unexpected_reply:
        return "Redis sent a reply that matches no request; the connection was dropped";
      case error::timeout:
        return "the Redis request did not complete in time";
    }
    return "unknown celeriac.redis error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace celeriac::redis
