#pragma once
// Celery's remote control ("pidbox") on Redis, both sides, the way kombu
// does it (kombu/pidbox.py, kombu/transport/redis.py):
//
//   a client  PUBLISHes a request on "/{db}.celery.pidbox" (fanout); when it
//             wants replies it first binds its reply queue
//             "<oid>.reply.celery.pidbox" in _kombu.binding.reply.celery.pidbox
//             and BRPOPs it until its timeout, then unbinds and deletes it;
//   a worker  SADDs "\x06\x16\x06\x16<node>.celery.pidbox" to
//             _kombu.binding.celery.pidbox, PSUBSCRIBEs the channel, runs
//             requests addressed to it and LPUSHes {node: reply} to every
//             queue bound under the request's reply routing key.
//
// pidbox_node is the worker side for any command (the caller dispatches
// on request.method); async_broadcast is the client side (`celeriac
// revoke`, and issue 9's inspect/control). A message published while a
// listener is disconnected is lost, as with Celery: pub/sub keeps nothing.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "celery/pidbox_message.hpp"
#include "json/value.hpp"
#include "redis/config.hpp"
#include "redis/connection.hpp"

namespace celeriac::broker {

// A node listening on the pidbox as `node` (e.g. "celeriac@host"). It
// owns two connections to the broker: one subscribed (a subscribed
// connection can run nothing else) and one for the binding and replies.
// All calls from the executor's thread; one async_next() at a time.
class pidbox_node {
public:
  pidbox_node(boost::asio::any_io_executor ex, redis::config broker, std::string node);

  const std::string& node() const noexcept { return node_; }
  // The Lamport clock (`inspect clock`, `stats`).
  std::int64_t clock() const noexcept { return clock_; }

  // Connects (retrying with backoff until Redis answers), declares the
  // node's binding as Celery's worker does, and PSUBSCRIBEs. Requests
  // published from then on are received. Throws only when cancelled.
  boost::asio::awaitable<void> async_start();

  // The next request addressed to this node (destination, or pattern and
  // matcher). Requests for other nodes are skipped; undecodable messages
  // are logged and skipped. When the connection breaks it reconnects (the
  // subscription is renewed, the binding declared again) and goes on.
  // Expired requests are returned too, as kombu 5.2's worker runs them:
  // a revoke must not be lost to clock skew between hosts.
  // Throws system_error(operation_aborted) when cancelled or after close().
  boost::asio::awaitable<celery::control_request> async_next();

  // Sends {node: reply} to the request's client, as Celery's worker does.
  // Returns true if it reached a waiting client; false, doing nothing,
  // when the request wants no reply, the client is gone (its reply queue
  // is no longer bound), or Redis cannot be reached (logged).
  boost::asio::awaitable<bool> async_reply(const celery::control_request& request, json::value reply);

  // Removes the node's binding (Celery's warm shutdown SREMs it) and
  // closes both connections. Failures are logged, never thrown.
  boost::asio::awaitable<void> async_stop();

  // Closes both connections at once: a waiting async_next() throws.
  void close() noexcept;

private:
  // Connects `conn`, retrying with backoff until Redis answers or close().
  boost::asio::awaitable<void> async_connect_until_up(redis::connection& conn);
  boost::asio::awaitable<void> async_declare();
  boost::asio::awaitable<void> async_resubscribe();

  std::string node_;
  std::string channel_;
  redis::connection subscriber_;
  redis::connection commands_;
  std::int64_t clock_ = 0;  // Lamport clock, as kombu's mailbox keeps one
  bool closed_ = false;
};

// Delivers an encoded reply the way kombu publishes to the direct exchange
// reply.to.exchange: LPUSH to every queue bound in _kombu.binding.<exchange>
// with routing key reply.to.routing_key, in one atomic step (so a client
// unbinding meanwhile never leaves an orphan list behind). Returns how
// many queues got it (0: nobody is listening). Throws system_error when
// Redis cannot be reached, std::runtime_error when it refuses.
boost::asio::awaitable<std::size_t> async_send_reply(redis::connection& conn, const celery::control_reply& reply);

struct broadcast_options {
  // Nodes the request is for; nullopt: every node.
  std::optional<std::vector<std::string>> destination{};
  // How long to collect replies; nullopt: send and return, wanting none
  // (Celery's `reply=False`: no ticket, no reply_to, expires 0).
  std::optional<std::chrono::milliseconds> reply_timeout{};
  // Stop collecting after this many replies; by default the number of
  // destination nodes when given, else collect until the timeout.
  std::optional<std::size_t> limit{};
  std::optional<std::string> pattern{};  // with matcher: nodes by name
  std::optional<std::string> matcher{};  // "glob" or "pcre"
};

struct broadcast_result {
  // Connections subscribed to the pidbox channel when the request went
  // out (PUBLISH's reply): listening Celery workers and celeriac nodes.
  std::int64_t listeners = 0;
  // Replies carrying this request's ticket, in arrival order.
  std::vector<celery::control_reply> replies;
};

// Publishes `method(arguments)` to the pidbox as Celery's
// Mailbox._broadcast does and, with a reply_timeout, collects the replies:
// binds a fresh reply queue first, BRPOPs it until the timeout or the
// limit, then unbinds and deletes it. `conn` is blocked meanwhile (BRPOP):
// do not share it with latency-sensitive callers. Throws system_error when
// Redis cannot be reached, std::runtime_error when it refuses a command,
// std::invalid_argument for an empty method.
boost::asio::awaitable<broadcast_result> async_broadcast(redis::connection& conn, std::string method,
                                                         json::object arguments, broadcast_options options = {});

}  // namespace celeriac::broker
