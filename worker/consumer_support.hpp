#pragma once
// Small pieces the consumer's files share (internal to worker/consumer*).

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "broker/queue_name.hpp"

namespace celeriac::worker::detail {

namespace asio = boost::asio;

inline constexpr auto wait_token = asio::as_tuple(asio::use_awaitable);
inline constexpr auto forever = std::chrono::steady_clock::time_point::max();

// Waits on a timer used as an event: returns when it expires or is
// cancelled (a wake-up), whichever comes first.
inline asio::awaitable<void> wait_on(asio::steady_timer& t) { co_await t.async_wait(wait_token); }

inline asio::awaitable<void> sleep_for(asio::steady_timer& t, std::chrono::steady_clock::duration d) {
  t.expires_after(d);
  co_await t.async_wait(wait_token);
}

inline std::string result_key(std::string_view task_id) { return fmt::format("celery-task-meta-{}", task_id); }

inline std::string shorten(std::string s, std::size_t max = 256) {
  if (s.size() > max) {
    s.resize(max);
    s += "...";
  }
  return s;
}

// The traceback text stored with a FAILURE. A C++ task has no Python
// frames; this keeps the shape Python tools print, naming the task.
inline std::string traceback_text(std::string_view task, std::string_view exc_type, std::string_view message) {
  return fmt::format("Traceback (most recent call last):\n  File \"celeriac\", in {}\n{}: {}\n", task, exc_type,
                     message);
}

// How long before its due time a delayed message goes back to its queue:
// it is then held in memory for the last moment and starts on time.
inline double delayed_lead(std::chrono::milliseconds eta_horizon) {
  return std::min(1.0, std::chrono::duration<double>(eta_horizon).count() / 2);
}

// The node's shared queue list ("name\n" lines, worker/child_slots.hpp);
// names that do not read are skipped.
inline std::vector<broker::queue_name> queue_lines(std::string_view text) {
  std::vector<broker::queue_name> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (auto q = broker::queue_name::make(text.substr(0, nl))) out.push_back(std::move(*q));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return out;
}

}  // namespace celeriac::worker::detail

namespace celeriac::worker {

// The names every consumer*.cpp speaks in (this header is theirs alone).
namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using namespace detail;

}  // namespace celeriac::worker
