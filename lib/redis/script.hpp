// redis::script: a Lua script run by its SHA1 (EVALSHA), loaded on demand.
//
//   static const redis::script pop_batch{R"lua( ... )lua"};
//   resp::value r = co_await redis::async_eval(conn, pop_batch, 1, queue, 100);
//
// In a larger pipeline, push the EVALSHA yourself and check its slot:
//
//   req.push("LLEN", q);
//   redis::push_evalsha(req, pop_batch, 1, queue, 100);    // slot 1
//   auto replies = co_await conn.async_exec(req);
//   if (redis::is_noscript(replies[1])) { co_await redis::async_load(conn, pop_batch); ... }
#pragma once

#include "redis/connection.hpp"
#include "redis/request.hpp"
#include "resp/value.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <initializer_list>
#include <ranges>
#include <string>
#include <string_view>

namespace celeriac::redis {

class script {
 public:
  // Keeps `source` and computes its SHA1, the name Redis caches it under.
  explicit script(std::string source);

  const std::string& source() const noexcept { return source_; }
  // 40 lower-case hex digits, as SCRIPT LOAD returns.
  const std::string& sha1() const noexcept { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

// Appends `EVALSHA sha numkeys keys... args...` to `req`; `keys` and `args`
// are ranges of strings or numbers. Returns `req`.
template <typename Keys, typename Args>
  requires detail::range_arg<Keys> && detail::range_arg<Args>
request& push_evalsha(request& req, const script& s, const Keys& keys, const Args& args) {
  return req.push("EVALSHA", s.sha1(), std::ranges::distance(keys), keys, args);
}
request& push_evalsha(request& req, const script& s, std::initializer_list<std::string_view> keys,
                      std::initializer_list<std::string_view> args);
// The wire order: `numkeys` and then the keys followed by the args, each a
// string, number or range (e.g. push_evalsha(req, s, 1, queue, 100)).
template <command_arg... KeysThenArgs>
request& push_evalsha(request& req, const script& s, std::size_t numkeys,
                      const KeysThenArgs&... keys_then_args) {
  return req.push("EVALSHA", s.sha1(), numkeys, keys_then_args...);
}

// Appends `EVAL source numkeys keys... args...`: sends the whole source,
// for callers that would rather not handle NOSCRIPT. Returns `req`.
template <typename Keys, typename Args>
  requires detail::range_arg<Keys> && detail::range_arg<Args>
request& push_eval(request& req, const script& s, const Keys& keys, const Args& args) {
  return req.push("EVAL", s.source(), std::ranges::distance(keys), keys, args);
}

// True if `reply` is Redis's "NOSCRIPT No matching script" error: the
// server does not have the script cached (restart, SCRIPT FLUSH, failover).
bool is_noscript(const resp::value& reply) noexcept;

// Runs SCRIPT LOAD so later EVALSHAs find the script. Throws
// system_error: like connection::async_exec, resp::error::server_error if
// the server rejects the script (e.g. a Lua syntax error, message
// included), error::unexpected_reply if it names another SHA1.
boost::asio::awaitable<void> async_load(connection& conn, const script& s);

namespace detail {
boost::asio::awaitable<resp::value> async_eval_request(connection& conn, const script& s,
                                                       request evalsha);
}  // namespace detail

// Runs the script with EVALSHA; on NOSCRIPT loads it and runs it once more.
// Returns the script's reply, which is an error value if the script failed
// at run time. `conn` and `s` must outlive the call; keys and args are
// copied before it returns. Throws like async_exec and async_load.
template <typename Keys, typename Args>
  requires detail::range_arg<Keys> && detail::range_arg<Args>
boost::asio::awaitable<resp::value> async_eval(connection& conn, const script& s,
                                               const Keys& keys, const Args& args) {
  request req;
  push_evalsha(req, s, keys, args);
  return detail::async_eval_request(conn, s, std::move(req));
}
// g++ 12 rejects braced lists inside a co_await expression ("array used
// as initializer"); there, build the awaitable first or use the form below.
boost::asio::awaitable<resp::value> async_eval(connection& conn, const script& s,
                                               std::initializer_list<std::string_view> keys,
                                               std::initializer_list<std::string_view> args);
// The wire order: co_await async_eval(conn, s, 1, queue, 100) runs
// EVALSHA sha 1 queue 100.
template <command_arg... KeysThenArgs>
boost::asio::awaitable<resp::value> async_eval(connection& conn, const script& s,
                                               std::size_t numkeys,
                                               const KeysThenArgs&... keys_then_args) {
  request req;
  push_evalsha(req, s, numkeys, keys_then_args...);
  return detail::async_eval_request(conn, s, std::move(req));
}

}  // namespace celeriac::redis
