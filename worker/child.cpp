#include "worker/child.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "util/log.hpp"
#include "worker/consumer.hpp"

namespace celeriac::worker {

int run_child(const worker_settings& settings, const app::task_registry& registry, int index) {
  boost::asio::io_context io(1);
  consumer c(io, settings, registry, index, nullptr);

  boost::asio::signal_set signals(io, SIGTERM, SIGQUIT);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGTERM) {
          log::debug("SIGTERM: warm shutdown");
          c.warm_shutdown();
        } else {
          log::debug("SIGQUIT: cold shutdown");
          c.cold_shutdown();
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  int code = 1;
  bool cold = false;
  boost::asio::co_spawn(io, c.async_run(), [&](std::exception_ptr e, int rc) {
    code = rc;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::critical("worker child failed: {}", ex.what());
      }
      code = 1;
    }
    cold = c.was_cold();
    signals.cancel();
    io.stop();
  });
  io.run();
  if (cold) {
    // The running task may be stuck in user code: its message is already
    // back on its queue, so leave without waiting for it.
    std::fflush(nullptr);
    ::_exit(code);
  }
  return code;
}

}  // namespace celeriac::worker
