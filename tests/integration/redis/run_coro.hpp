// run_coro(): runs a test coroutine on a fresh io_context until it ends,
// rethrowing its exception (so doctest REQUIRE failures propagate).
#pragma once

#include <doctest/doctest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <functional>

namespace celeriac::test {

// `body` gets the executor and returns the awaitable to run. The context is
// stopped when the body ends, so background loops of connections still open
// do not keep it running.
inline void run_coro(
    const std::function<boost::asio::awaitable<void>(boost::asio::any_io_executor)>& body) {
  boost::asio::io_context ioc;
  std::exception_ptr error;
  bool done = false;
  boost::asio::co_spawn(ioc, body(ioc.get_executor()), [&](std::exception_ptr e) {
    error = e;
    done = true;
    ioc.stop();
  });
  ioc.run();
  REQUIRE_MESSAGE(done, "the test coroutine never finished");
  if (error) std::rethrow_exception(error);
}

}  // namespace celeriac::test
