#include "app/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "celery/kombu_redis.hpp"
#include "celery/message_codec.hpp"

namespace celeriac::app {
namespace {

namespace asio = boost::asio;

std::string result_key(std::string_view id) { return fmt::format("celery-task-meta-{}", id); }

bool ready(const celery::result_meta& m) {
  auto s = m.state();
  return s && celery::is_ready(*s);
}

// The meta stored or published under `key`; throws unreadable_result.
celery::result_meta read_meta(const std::string& key, std::string_view text) {
  auto meta = celery::decode_result_meta(text);
  if (!meta) throw unreadable_result(key, meta.error().message);
  return std::move(*meta);
}

}  // namespace

unreadable_result::unreadable_result(std::string key, const std::string& reason)
    : std::runtime_error(fmt::format("the result stored under {} cannot be read: {}; the task's outcome is "
                                     "unknown (look at it with: redis-cli GET {})",
                                     key, reason, key)),
      key_(std::move(key)) {}

client::client(asio::any_io_executor ex, redis::config broker, std::optional<redis::config> backend)
    : broker_(ex, broker), subscriber_(ex, backend ? *backend : broker) {
  if (backend) backend_.emplace(ex, *backend);
}

void client::close() noexcept {
  broker_.close();
  if (backend_) backend_->close();
  subscriber_.close();
}

asio::awaitable<void> client::async_connect() {
  co_await broker_.async_connect();
  if (backend_) co_await backend_->async_connect();
}

asio::awaitable<std::string> client::async_send_task(std::string name, json::array args, json::object kwargs,
                                                     celery::message_options options, bool subscribe_result) {
  celery::task_message m = celery::make_task_message(std::move(name), std::move(args), std::move(kwargs), options);
  if (subscribe_result) {
    if (!subscriber_.is_connected()) co_await subscriber_.async_connect();
    std::vector<std::string> channels(1, result_key(m.headers.id));
    co_await subscriber_.async_subscribe(std::move(channels));
  }
  const std::string& queue = m.properties.delivery_info.routing_key;
  redis::request req;
  req.push("SADD", fmt::format("_kombu.binding.{}", queue), celery::binding_member(queue));
  req.push("LPUSH", celery::queue_for_priority(queue, m.properties.priority), celery::encode_message(m));
  auto replies = co_await broker_.async_exec(req);
  for (auto& r : replies)
    if (r.is_error())
      throw std::runtime_error(fmt::format("Redis refused to enqueue task {}: {}", m.headers.id, r.error_message()));
  co_return m.headers.id;
}

asio::awaitable<std::optional<celery::result_meta>> client::async_get_result(const std::string& task_id) {
  redis::connection& conn = backend_ ? *backend_ : broker_;
  redis::request req;
  req.push("GET", result_key(task_id));
  auto replies = co_await conn.async_exec(req);
  if (replies.at(0).is_error())
    throw std::runtime_error(fmt::format("reading the result of {}: {}", task_id, replies[0].error_message()));
  if (replies[0].is_nil()) co_return std::nullopt;
  co_return read_meta(result_key(task_id), *replies[0].as_string());
}

asio::awaitable<std::optional<celery::result_meta>> client::async_wait_result(const std::string& task_id,
                                                                              std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string channel = result_key(task_id);
  if (!subscriber_.is_connected()) co_await subscriber_.async_connect();
  if (subscriber_.subscription_count() == 0) {
    std::vector<std::string> channels(1, channel);
    co_await subscriber_.async_subscribe(std::move(channels));
  }
  if (auto stored = co_await async_get_result(task_id); stored && ready(*stored)) co_return stored;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    // Returns nullopt on timeout and throws at once if the connection breaks.
    auto msg = co_await subscriber_.async_receive(left);
    if (!msg) break;
    if (msg->channel != channel) continue;
    auto meta = read_meta(channel, msg->payload);
    if (ready(meta)) co_return meta;
  }
  // One last read: the result may have landed as the timer fired.
  if (auto stored = co_await async_get_result(task_id); stored && ready(*stored)) co_return stored;
  co_return std::nullopt;
}

}  // namespace celeriac::app
