#include "broker/pidbox.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/format.h>

#include "celery/kombu_redis.hpp"
#include "redis/script.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/uuid.hpp"

namespace celeriac::broker {
namespace {

namespace asio = boost::asio;
using asio::awaitable;

// kombu's direct-exchange delivery (Channel._lookup + _put), atomically:
// members of the binding set are "routing_key<sep>pattern<sep>queue";
// every queue bound under the routing key gets the payload (priority 0,
// so the base list). No binding: nothing is written, as kombu's lookup
// finds no queue and, without a dead-letter queue, drops the message.
//   KEYS[1] _kombu.binding.<exchange>   ARGV[1] routing key   ARGV[2] payload
//   → number of lists pushed to
const redis::script send_reply_script{R"lua(
local sep = '\6\22'
local pushed = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local a = string.find(member, sep, 1, true)
  if a and string.sub(member, 1, a - 1) == ARGV[1] then
    local b = string.find(member, sep, a + 2, true)
    if b then
      redis.call('LPUSH', string.sub(member, b + 2), ARGV[2])
      pushed = pushed + 1
    end
  end
end
return pushed
)lua"};

// The Lamport clock a client process sends with its requests.
std::int64_t next_client_clock() {
  static std::atomic<std::int64_t> clock{0};
  return ++clock;
}

void check(const resp::value& v, std::string_view what) {
  if (v.is_error()) throw std::runtime_error(fmt::format("Redis refused {}: {}", what, v.error_message()));
}

bool is_cancellation(const boost::system::system_error& e) {
  return e.code() == asio::error::operation_aborted;
}

// BRPOPs the reply lists until `deadline` or `limit` replies with `ticket`.
awaitable<std::vector<celery::control_reply>> collect_replies(redis::connection& conn, const std::string& oid,
                                                              const std::string& ticket,
                                                              std::chrono::steady_clock::time_point deadline,
                                                              std::optional<std::size_t> limit) {
  std::vector<celery::control_reply> replies;
  const std::vector<std::string> lists = celery::priority_lists(celery::pidbox_reply_queue(oid));
  while (!limit || replies.size() < *limit) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 1) break;
    redis::request pop;
    pop.push("BRPOP", lists, fmt::format("{:.3f}", static_cast<double>(left.count()) / 1000.0));
    auto got = co_await conn.async_exec(pop);
    check(got.at(0), "BRPOP on the reply queue");
    if (got[0].is_nil()) break;  // timed out
    auto pair = got[0].elements();
    if (!pair || pair->size() != 2) continue;
    auto payload = (*pair)[1].as_string();
    if (!payload) continue;
    auto reply = celery::decode_control_reply(*payload);
    if (!reply) {
      log::warning("pidbox: ignoring an unreadable reply on {}: {}", celery::pidbox_reply_queue(oid),
                   reply.error().message);
      continue;
    }
    if (reply->ticket && *reply->ticket != ticket) continue;  // a late reply to an earlier request
    replies.push_back(std::move(*reply));
  }
  co_return replies;
}

// kombu's after_reply_message_received: unbind and delete the reply queue.
awaitable<void> drop_reply_queue(redis::connection& conn, const std::string& oid) {
  redis::request req;
  req.push("SREM", celery::exchange_binding_key(celery::pidbox_reply_exchange),
           celery::pidbox_reply_binding_member(oid));
  req.push("DEL", celery::priority_lists(celery::pidbox_reply_queue(oid)));
  co_await conn.async_exec(req);
}

}  // namespace

pidbox_node::pidbox_node(asio::any_io_executor ex, redis::config broker, std::string node)
    : node_(std::move(node)),
      channel_(celery::pidbox_channel(broker.db)),
      subscriber_(ex, broker),
      commands_(ex, broker) {}

awaitable<void> pidbox_node::async_start() {
  closed_ = false;
  co_await async_connect_until_up(commands_);
  co_await async_connect_until_up(subscriber_);
  co_await async_declare();
  co_await subscriber_.async_psubscribe(channel_);
  log::debug("pidbox: {} listening on {}", node_, channel_);
}

awaitable<void> pidbox_node::async_declare() {
  try {
    if (!commands_.is_connected()) co_await commands_.async_connect();
    redis::request req;
    req.push("SADD", celery::pidbox_binding_key, celery::pidbox_binding_member(node_));
    auto got = co_await commands_.async_exec(req);
    check(got.at(0), "declaring the pidbox binding");
  } catch (const std::exception& e) {
    // Only `celery inspect`'s tooling reads the binding; delivery is by
    // PUBLISH, so listening goes on without it.
    log::warning("pidbox: could not declare {}'s binding in {}: {}", node_, celery::pidbox_binding_key, e.what());
  }
}

awaitable<void> pidbox_node::async_connect_until_up(redis::connection& conn) {
  // Not connection::async_reconnect: that one keeps trying after close().
  auto delay = std::chrono::milliseconds(50);
  asio::steady_timer timer(conn.get_executor());
  for (;;) {
    if (closed_) throw boost::system::system_error(asio::error::operation_aborted);
    std::string failure;
    try {
      co_await conn.async_connect();  // renews the subscriptions of a broken session
      co_return;
    } catch (const boost::system::system_error& e) {
      if (is_cancellation(e)) throw;
      failure = e.what();
    }
    log::warning("pidbox: {}: {}; retrying in {} ms", node_, failure, delay.count());
    timer.expires_after(delay);
    co_await timer.async_wait(asio::use_awaitable);
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

awaitable<void> pidbox_node::async_resubscribe() {
  co_await async_connect_until_up(subscriber_);
  co_await async_declare();
  log::info("pidbox: {} listening on {} again; requests sent meanwhile were missed", node_, channel_);
}

awaitable<celery::control_request> pidbox_node::async_next() {
  for (;;) {
    std::optional<redis::push_message> message;
    try {
      message = co_await subscriber_.async_receive();
    } catch (const boost::system::system_error& e) {
      if (closed_ || is_cancellation(e)) throw boost::system::system_error(asio::error::operation_aborted);
      log::warning("pidbox: {} lost its subscription to {} ({}); reconnecting", node_, channel_, e.what());
    }
    if (!message) {
      co_await async_resubscribe();
      continue;
    }
    if (message->channel != channel_) continue;
    auto request = celery::decode_control_request(message->payload);
    if (!request) {
      log::error("pidbox: {} ignored a control message it cannot read: {}", node_, request.error().message);
      continue;
    }
    clock_ = std::max(clock_, request->clock) + 1;
    if (!request->addressed_to(node_)) continue;
    log::debug("pidbox: {} received {}", node_, request->method);
    co_return std::move(*request);
  }
}

awaitable<bool> pidbox_node::async_reply(const celery::control_request& request, json::value reply) {
  if (!request.reply_to) co_return false;
  celery::control_reply r{.node = node_,
                          .value = std::move(reply),
                          .ticket = request.ticket,
                          .clock = ++clock_,
                          .to = *request.reply_to,
                          .delivery_tag = util::uuid4()};
  try {
    if (!commands_.is_connected()) co_await commands_.async_connect();
    std::size_t delivered = co_await async_send_reply(commands_, r);
    co_return delivered > 0;
  } catch (const std::exception& e) {
    log::warning("pidbox: {} could not reply to {} ({}): {}", node_, request.method, request.reply_to->routing_key,
                 e.what());
  }
  co_return false;
}

awaitable<void> pidbox_node::async_stop() {
  try {
    if (commands_.is_connected()) {
      redis::request req;
      req.push("SREM", celery::pidbox_binding_key, celery::pidbox_binding_member(node_));
      co_await commands_.async_exec(req);
    }
  } catch (const std::exception& e) {
    log::warning("pidbox: could not remove {}'s binding: {}", node_, e.what());
  }
  close();
}

void pidbox_node::close() noexcept {
  closed_ = true;
  subscriber_.close();
  commands_.close();
}

awaitable<std::size_t> async_send_reply(redis::connection& conn, const celery::control_reply& reply) {
  const std::string key = celery::exchange_binding_key(reply.to.exchange);
  const std::string payload = celery::encode_control_reply(reply);
  resp::value got = co_await redis::async_eval(conn, send_reply_script, 1, key, reply.to.routing_key, payload);
  check(got, "delivering a pidbox reply");
  auto n = got.as_integer();
  co_return n ? static_cast<std::size_t>(*n) : 0;
}

awaitable<broadcast_result> async_broadcast(redis::connection& conn, std::string method, json::object arguments,
                                            broadcast_options options) {
  if (method.empty()) throw std::invalid_argument("async_broadcast: the control method name is empty");
  celery::control_request request;
  request.method = std::move(method);
  request.arguments = std::move(arguments);
  request.destination = options.destination;
  request.pattern = options.pattern;
  request.matcher = options.matcher;
  request.clock = next_client_clock();
  request.delivery_tag = util::uuid4();
  const std::string oid = util::uuid4();
  const auto deadline = std::chrono::steady_clock::now() + options.reply_timeout.value_or(std::chrono::milliseconds(0));
  if (options.reply_timeout) {
    request.ticket = util::uuid4();
    request.reply_to = celery::reply_address{.routing_key = oid};
    request.expires = util::unix_seconds(util::wall_now()) +
                      std::chrono::duration<double>(*options.reply_timeout).count();
  }

  redis::request publish;
  if (request.reply_to)
    publish.push("SADD", celery::exchange_binding_key(celery::pidbox_reply_exchange),
                 celery::pidbox_reply_binding_member(oid));
  publish.push("PUBLISH", celery::pidbox_channel(conn.settings().db), celery::encode_control_request(request));
  auto got = co_await conn.async_exec(publish);
  for (const auto& r : got) check(r, fmt::format("publishing the {} control request", request.method));
  broadcast_result result;
  if (auto n = got.back().as_integer()) result.listeners = *n;
  if (!request.reply_to) co_return result;

  std::optional<std::size_t> limit = options.limit;
  if (!limit && options.destination && !options.destination->empty()) limit = options.destination->size();
  std::exception_ptr failure;
  try {
    result.replies = co_await collect_replies(conn, oid, *request.ticket, deadline, limit);
  } catch (...) {
    failure = std::current_exception();
  }
  try {
    co_await drop_reply_queue(conn, oid);
  } catch (const std::exception& e) {
    log::warning("pidbox: could not remove the reply queue {}: {}", celery::pidbox_reply_queue(oid), e.what());
  }
  if (failure) std::rethrow_exception(failure);
  co_return result;
}

}  // namespace celeriac::broker
