// async_with_timeout(): run an awaitable under a deadline.
//
// Why not `co_await (op || timer.async_wait(use_awaitable))`? Asio 1.81's
// awaitable `||` waits for the first *success*: if `op` throws (connection
// refused, connection lost) the error is held back until the timer fires,
// and is then dropped in favour of the timer's "win". That turns every
// failure into a late, misleading timeout. This helper completes with
// whichever finishes first, success or failure.
#pragma once

#include "redis/error.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <type_traits>
#include <utility>

namespace celeriac::redis {

// Runs `op`; if it has not finished after `limit`, cancels it, waits for
// it to wind down and throws system_error(error::timeout). Otherwise
// returns its result, or rethrows its exception as soon as it fails.
// Cancelling the caller cancels `op` (which then typically throws
// operation_aborted). T must be default-constructible (co_spawn's rule).
template <typename T>
boost::asio::awaitable<T> async_with_timeout(boost::asio::awaitable<T> op,
                                             std::chrono::steady_clock::duration limit) {
  namespace asio = boost::asio;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, limit);
  auto group = asio::experimental::make_parallel_group(
      asio::co_spawn(ex, std::move(op), asio::deferred), timer.async_wait(asio::deferred));
  if constexpr (std::is_void_v<T>) {
    auto [order, op_error, timer_ec] =
        co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (order[0] == 0) {
      if (op_error) std::rethrow_exception(op_error);
      co_return;
    }
    if (timer_ec) throw boost::system::system_error(timer_ec);  // we were cancelled
    throw boost::system::system_error(error::timeout);
  } else {
    auto [order, op_error, result, timer_ec] =
        co_await group.async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (order[0] == 0) {
      if (op_error) std::rethrow_exception(op_error);
      co_return std::move(result);
    }
    if (timer_ec) throw boost::system::system_error(timer_ec);  // we were cancelled
    throw boost::system::system_error(error::timeout);
  }
}

}  // namespace celeriac::redis
