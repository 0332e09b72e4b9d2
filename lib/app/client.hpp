#pragma once
// The producer side, for API servers written in C++ and for `celeriac
// call`: publishes task messages exactly as Celery's send_task does, and
// waits for results the way AsyncResult.get() does (SUBSCRIBE to the
// result channel, then GET, so a result stored in between is not missed).

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "celery/message_builder.hpp"
#include "celery/result_meta.hpp"
#include "redis/config.hpp"
#include "redis/connection.hpp"

namespace celeriac::app {

// A stored or published result that cannot be read at all (not JSON, not
// an object, no string status): waiting longer would not make it readable,
// so the wait ends at once with this. what() names the key and the fault.
class unreadable_result : public std::runtime_error {
public:
  unreadable_result(std::string key, const std::string& reason);
  const std::string& key() const noexcept { return key_; }

private:
  std::string key_;
};

class client {
public:
  // backend: where results are read; nullopt reads them from the broker.
  client(boost::asio::any_io_executor ex, redis::config broker, std::optional<redis::config> backend = {});

  // Connects the broker (and backend) connections. Throws system_error.
  boost::asio::awaitable<void> async_connect();

  // Publishes task `name` to options.queue (default "celery") and returns
  // its task id. With a backend and subscribe_result, subscribes to the
  // result channel first so async_wait_result cannot miss the result.
  boost::asio::awaitable<std::string> async_send_task(std::string name, json::array args, json::object kwargs,
                                                      celery::message_options options = {},
                                                      bool subscribe_result = false);

  // The stored result meta, or nullopt while none is stored (PENDING).
  // Throws unreadable_result for a meta decode_result_meta refuses.
  boost::asio::awaitable<std::optional<celery::result_meta>> async_get_result(const std::string& task_id);

  // Waits until the task's result is ready (SUCCESS, FAILURE, REVOKED) or
  // the timeout passes (nullopt). RETRY and other interim states are
  // skipped, as AsyncResult.get() does. A stored or published meta that
  // cannot be read throws unreadable_result at once, as Celery's client
  // raises when it cannot decode one.
  boost::asio::awaitable<std::optional<celery::result_meta>> async_wait_result(const std::string& task_id,
                                                                               std::chrono::milliseconds timeout);

  // Closes every connection (pending calls throw); the io_context can then
  // run out of work and return.
  void close() noexcept;

private:
  redis::connection broker_;
  std::optional<redis::connection> backend_;
  redis::connection subscriber_;
};

}  // namespace celeriac::app
