#include "limiter/limiter.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "limiter/scripts.hpp"
#include "util/uuid.hpp"

namespace celeriac::limiter {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Up to a quarter of the wait, at most 25 ms: enough to spread waiters
// released by the same expiry, too little to cost throughput.
milliseconds jitter(milliseconds wait) {
  thread_local std::mt19937 rng{std::random_device{}()};
  const auto most = std::clamp<milliseconds::rep>(wait.count() / 4, 1, 25);
  return milliseconds(std::uniform_int_distribution<milliseconds::rep>(0, most)(rng));
}

double amount_for(std::span<const charge> charges, const std::string& key) {
  for (const charge& c : charges)
    if (c.lim->key == key) return c.amount;
  return 0;
}

adjustment read_adjust_reply(const resp::value& reply, const limit& lim) {
  if (reply.is_error())
    throw std::runtime_error(
        fmt::format("correcting rate limit {} failed in Redis: {}", lim.key, reply.error_message()));
  const auto text = reply.as_string();
  if (text && *text == "adjusted") return adjustment::adjusted;
  if (text && *text == "dropped") return adjustment::dropped;
  if (text && *text == "recorded") return adjustment::recorded;
  if (text && *text == "gone") return adjustment::gone;
  throw std::runtime_error(fmt::format("correcting rate limit {}: the script answered {}; is another version of "
                                       "celeriac using the same keys?",
                                       lim.key, reply.to_debug_string()));
}

}  // namespace

asio::awaitable<decision> async_try_charge(redis::connection& conn, std::span<const charge> charges) {
  check_charges(charges);
  std::string id = util::uuid4();
  if (charges.empty()) {
    decision free;
    free.granted = true;
    free.id = std::move(id);
    co_return free;
  }
  const script_call call = charge_call(charges, id);
  const resp::value reply = co_await redis::async_eval(conn, scripts::charge(), call.keys, call.args);
  co_return read_charge_reply(reply, charges, std::move(id));
}

asio::awaitable<std::string> async_acquire(redis::connection& conn, std::span<const charge> charges,
                                           std::chrono::steady_clock::time_point deadline) {
  check_charges(charges);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    decision d = co_await async_try_charge(conn, charges);
    if (d.granted) co_return std::move(d.id);
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      throw deadline_exceeded(fmt::format(
          "rate limit {} had no room for {} before the deadline (room again in {} ms): raise the limit, charge "
          "less at once, or wait longer",
          d.short_key, amount_for(charges, d.short_key), d.retry_after.count()));
    const std::chrono::steady_clock::duration wanted = d.retry_after + jitter(d.retry_after);
    timer.expires_after(std::min(wanted, deadline - now));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<adjustment> async_adjust(redis::connection& conn, const limit& lim, const std::string& id,
                                         double delta) {
  check_limit(lim);
  if (!std::isfinite(delta))
    throw std::invalid_argument(fmt::format("a correction of {} to rate limit {}: give a finite number", delta, lim.key));
  if (id.empty()) throw std::invalid_argument(fmt::format("a correction to rate limit {} names no charge id", lim.key));
  const script_call call = adjust_call(lim, id, delta);
  const resp::value reply = co_await redis::async_eval(conn, scripts::adjust(), call.keys, call.args);
  co_return read_adjust_reply(reply, lim);
}

}  // namespace celeriac::limiter
