// Error codes of the Redis client: bad URLs, connection set-up and
// connection state. Per-command error replies ("-ERR ...") are not here:
// they are values (resp::value::is_error()) in the reply vector.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace celeriac::redis {

enum class error {
  // parse_url: the URL does not start with "redis://".
  bad_url_scheme = 1,
  // parse_url: the host part is malformed (e.g. an unclosed "[" of IPv6).
  bad_url_host,
  // parse_url: the port is not a number in 1..65535.
  bad_url_port,
  // parse_url: the path is not "/<db>" with db a number in 0..2^31-1.
  bad_url_db,
  // parse_url: a user name is given without a password ("redis://u@h").
  bad_url_credentials,
  // parse_url: "?..." options and "#" fragments are not supported.
  bad_url_options,
  // parse_url: a "%" escape in the user name or password is malformed.
  bad_url_escape,

  // async_connect: TCP connect plus AUTH/SELECT took longer than
  // config::connect_timeout.
  connect_timeout,
  // async_connect: the server refused AUTH (wrong user or password).
  auth_failed,
  // async_connect: the server refused SELECT or a SUBSCRIBE.
  handshake_failed,
  // The connection is not open: never connected, closed, or broken by an
  // earlier I/O error. Call async_connect or async_reconnect.
  not_connected,
  // close() was called while the request was waiting.
  closed,
  // The server sent a reply nobody asked for, or a pub/sub frame that is
  // not shaped like one; the connection is dropped.
  unexpected_reply,
  // sync_client: the request did not complete within its timeout.
  timeout,
};

// The category of redis::error; its name is "celeriac.redis".
const boost::system::error_category& error_category() noexcept;

// Makes an error_code of the redis category (found by ADL).
boost::system::error_code make_error_code(error e) noexcept;

}  // namespace celeriac::redis

template <>
struct boost::system::is_error_code_enum<celeriac::redis::error> : std::true_type {};
