// redis::config: where and how to connect, and parse_url() to build one
// from the URLs Celery/kombu use ("redis://:password@host:6379/0").
#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace celeriac::redis {

struct config {
  std::string host = "localhost";
  std::uint16_t port = 6379;
  // ACL user name; empty means AUTH with the password alone (user "default").
  std::string username;
  // Empty means no AUTH at all.
  std::string password;
  // Database selected after connecting; SELECT is skipped for 0.
  int db = 0;
  // Sent as CLIENT SETNAME after connecting when not empty (shows in
  // CLIENT LIST). Must not contain spaces. Where an ACL refuses it the
  // connection goes on unnamed.
  std::string client_name;
  // Limit for one connect: resolve, TCP connect, AUTH, SELECT. Zero means
  // no limit.
  std::chrono::milliseconds connect_timeout{5000};
  // async_reconnect waits this long after the first failed attempt and
  // doubles the wait after each further failure, up to the max (each wait
  // is jittered down by up to half so a fleet does not reconnect in step).
  std::chrono::milliseconds reconnect_min_delay{50};
  std::chrono::milliseconds reconnect_max_delay{5000};
  // Bytes of the first read buffer; it doubles while reads fill it, up to
  // read_buffer_max.
  std::size_t read_buffer_size = 64 * 1024;
  std::size_t read_buffer_max = 1024 * 1024;
  // Look a host name up with a blocking call on the thread running the
  // connect, instead of on the thread Asio starts for lookups and keeps
  // for the io_context's life. For a process that must not have threads
  // because it forks (the worker's supervisor). connect_timeout then does
  // not bound the lookup; the system resolver's own timeouts do. An
  // address is never looked up either way.
  bool resolve_in_place = false;
};

// Parses `redis://[[user]:password@]host[:port][/db]`.
// - host may be a name, an IPv4 address or a bracketed IPv6 address
//   ("[::1]"); empty means "localhost". Port defaults to 6379, db to 0.
// - user and password may use %-escapes (%40 for "@").
// Returns the config (timeouts and other fields keep their defaults), or a
// redis::error naming what is wrong: bad_url_scheme (only redis:// is
// supported), bad_url_host, bad_url_port, bad_url_db, bad_url_credentials
// (a user without a password), bad_url_options ("?..." or "#..."),
// bad_url_escape.
boost::system::result<config> parse_url(std::string_view url);

// Renders `cfg` as a URL for logs, with the password replaced by `mask`:
// "redis://:***@host:6379/0". Never contains the password.
std::string to_string(const config& cfg, std::string_view mask = "***");

}  // namespace celeriac::redis
