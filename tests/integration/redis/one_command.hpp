// one_command(): sends one Redis command and returns its reply, for tests
// that set up or inspect Redis state between the steps they test.
#pragma once

#include <string_view>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "redis/connection.hpp"

namespace celeriac::test {

template <typename... A>
boost::asio::awaitable<resp::value> one_command(redis::connection& c, std::string_view name, const A&... args) {
  redis::request req;
  req.push(name, args...);
  auto replies = co_await c.async_exec(req);
  co_return std::move(replies.at(0));
}

}  // namespace celeriac::test
