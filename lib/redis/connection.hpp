// redis::connection: one TCP connection to Redis, multiplexed between
// coroutines, on Boost.Asio C++20 coroutines.
//
// How it works:
// 1. async_connect() opens the socket, starts a reader and a writer
//    coroutine, then sends AUTH / SELECT / CLIENT SETNAME (and re-sends the
//    SUBSCRIBEs of an earlier session).
// 2. async_exec(req) queues the request and suspends. The writer takes
//    every queued request, joins their bytes and writes them in one go; the
//    reader parses replies and hands them out in FIFO order. So any number
//    of coroutines may call async_exec at once and each gets its own replies.
// 3. A command's "-ERR ..." reply is a value in the reply vector. An I/O or
//    protocol error breaks the connection: every waiting request throws
//    boost::system::system_error, later ones throw error::not_connected,
//    until async_connect() or async_reconnect() opens a new session.
// 4. After a SUBSCRIBE, "message"/"pmessage" frames go to a queue read by
//    async_receive(). Subscriptions are remembered and re-sent on reconnect.
//
// Threading: all calls must come from the connection's executor (one
// io_context thread, or a strand); nothing is locked.
//
// Cancellation, e.g. `co_await async_with_timeout(conn.async_exec(req), 2s)`
// (redis/timeout.hpp; prefer it to Asio's `||`, which holds a failure back
// until the timer fires and then reports a timeout), makes the waiting call
// throw operation_aborted while the connection stays usable: a request not
// yet written is dropped, one already written has its replies read and
// discarded. Never cancel a blocking command (BLMOVE, BRPOP) that way: the
// server may still pop an element whose reply is then thrown away. Give the
// command its own timeout, shorter than any outer one, and run blocking
// commands on a dedicated connection so they do not delay other callers.
#pragma once

#include "redis/config.hpp"
#include "redis/request.hpp"
#include "resp/value.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace celeriac::redis {

namespace detail {
class session;
struct subscriptions;
}  // namespace detail

// One pub/sub message.
struct push_message {
  std::string channel;  // the channel it was published on
  std::string pattern;  // the PSUBSCRIBE pattern that matched; empty for SUBSCRIBE
  std::string payload;
};

class connection {
 public:
  // A closed connection; nothing happens until async_connect().
  connection(boost::asio::any_io_executor ex, config cfg);
  // Closes the socket; waiting calls throw error::closed.
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  // A moved-from connection may only be destroyed or assigned to.
  connection(connection&&) noexcept;
  connection& operator=(connection&&) noexcept;

  const config& settings() const noexcept { return cfg_; }
  boost::asio::any_io_executor get_executor() const noexcept { return ex_; }

  // Connects: resolve, TCP connect (TCP_NODELAY), then AUTH if a password
  // is set, SELECT if db != 0, CLIENT SETNAME if a client name is set, and
  // SUBSCRIBE/PSUBSCRIBE to what this connection was subscribed to. All of
  // it within config::connect_timeout. An open session is closed first.
  // Throws boost::system::system_error naming the URL (without password):
  // the socket error, error::connect_timeout, error::auth_failed or
  // error::handshake_failed (with the server's message).
  boost::asio::awaitable<void> async_connect();

  // Closes any session and connects again until it succeeds, waiting
  // between attempts from reconnect_min_delay, doubling up to
  // reconnect_max_delay, with jitter. Logs each failed attempt to stderr.
  // Returns once connected; throws system_error(operation_aborted) only if
  // cancelled.
  boost::asio::awaitable<void> async_reconnect();

  // Sends the whole pipeline and returns exactly req.expected_replies()
  // replies, in order; error replies are values. `req` must stay alive
  // until the call completes. An empty request returns at once.
  // Throws system_error: error::not_connected if the connection is not
  // open; the I/O or resp::error that broke the connection (the connection
  // is then closed); error::closed if close() ran meanwhile;
  // operation_aborted if the caller was cancelled (connection still usable).
  boost::asio::awaitable<std::vector<resp::value>> async_exec(const request& req);

  // SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE / PUNSUBSCRIBE to the given
  // channels or patterns (strings, or ranges of strings), and waits for the
  // server's confirmations: co_await sub.async_subscribe("a", "b").
  // Messages then arrive through async_receive(). Once subscribed, RESP2
  // only allows these commands and PING on the connection, so use a
  // dedicated one. Throws like async_exec, plus
  // system_error(resp::error::server_error) if the server refuses (e.g. an
  // ACL forbids the channel, or no channel was given). The unsubscribe
  // forms throw std::invalid_argument at once when given no channel.
  template <command_arg... Names>
  boost::asio::awaitable<void> async_subscribe(const Names&... channels) {
    return async_pubsub(make_pubsub("SUBSCRIBE", channels...));
  }
  template <command_arg... Names>
  boost::asio::awaitable<void> async_psubscribe(const Names&... patterns) {
    return async_pubsub(make_pubsub("PSUBSCRIBE", patterns...));
  }
  template <command_arg... Names>
  boost::asio::awaitable<void> async_unsubscribe(const Names&... channels) {
    return async_pubsub(make_pubsub("UNSUBSCRIBE", channels...));
  }
  template <command_arg... Names>
  boost::asio::awaitable<void> async_punsubscribe(const Names&... patterns) {
    return async_pubsub(make_pubsub("PUNSUBSCRIBE", patterns...));
  }

  // Returns the next pub/sub message, waiting if none is queued. Only one
  // coroutine may wait at a time (a second one throws std::logic_error).
  // Throws system_error like async_exec when the connection breaks; if
  // cancelled it throws operation_aborted and no message is lost (a
  // message that arrives meanwhile stays queued). Messages queue without
  // bound while nobody receives.
  boost::asio::awaitable<push_message> async_receive();

  // Like async_receive(), but gives up after `timeout` and returns
  // std::nullopt (no message is lost). Still throws system_error at once
  // if the connection breaks, rather than waiting out the timeout.
  boost::asio::awaitable<std::optional<push_message>> async_receive(
      std::chrono::steady_clock::duration timeout);

  // Pops a queued message without waiting; std::nullopt if none.
  std::optional<push_message> try_receive();

  // Closes the session: the socket is closed, waiting calls throw
  // error::closed, remembered subscriptions are forgotten. Idempotent.
  void close() noexcept;

  // True while a session is open and has not been broken by an error.
  bool is_connected() const noexcept;

  // Channels and patterns currently subscribed (as confirmed by the server).
  std::size_t subscription_count() const noexcept;

 private:
  // Closes the session but keeps the remembered subscriptions.
  void drop_session() noexcept;
  // Builds the request eagerly, so the names' storage need not outlive
  // the call (and no braced list is needed inside co_await, which g++ 12
  // rejects).
  template <typename... Names>
  static request make_pubsub(std::string_view command, const Names&... names) {
    request req;
    req.push(command, names...);
    return req;
  }
  // Runs a (P)(UN)SUBSCRIBE request; throws on a refused channel.
  boost::asio::awaitable<void> async_pubsub(request req);

  boost::asio::any_io_executor ex_;
  config cfg_;
  std::shared_ptr<detail::session> session_;
  std::shared_ptr<detail::subscriptions> subs_;
};

}  // namespace celeriac::redis
