#include "worker/child.hpp"

#include <signal.h>
#include <unistd.h>

#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "util/log.hpp"
#include "worker/consumer.hpp"
#include "worker/job_store_sink.hpp"
#include "worker/metrics_service.hpp"

namespace celeriac::worker {

namespace {

// How long a stopping child waits for PostgreSQL to take the job states
// still buffered. A cold shutdown waits less: the supervisor's SIGKILL
// comes after cold_shutdown_grace.
constexpr std::chrono::milliseconds warm_flush_limit{10'000};
constexpr std::chrono::milliseconds cold_flush_limit{2'000};

// Runs the io_context again until the sink has flushed (or given up).
void flush_sink(boost::asio::io_context& io, job_store_sink& sink, bool cold) {
  io.restart();
  bool flushed = false;
  boost::asio::co_spawn(io, sink.async_stop(cold ? cold_flush_limit : warm_flush_limit),
                        [&](std::exception_ptr e, bool ok) {
                          flushed = ok && !e;
                          io.stop();
                        });
  io.run();
  if (!flushed) {
    const auto s = sink.stats();
    log::warning("job store: {} job state(s) not written to PostgreSQL before exit (database unavailable?)",
                 s.pending);
  }
}

}  // namespace

int run_child(const worker_settings& settings, const app::task_registry& registry, int index, child_slots& slots) {
  boost::asio::io_context io(1);
  // Built before the consumer, which reports to it, and destroyed after it.
  std::unique_ptr<job_store_sink> sink;
  if (settings.database_url) {
    sink = std::make_unique<job_store_sink>(io.get_executor(), *settings.database_url, settings.node_name);
    sink->start();
  }
  consumer c(io, settings, registry, index, sink.get(), slots);
  child_metrics metrics(io, settings, index, slots, sink.get());  // child 1 serves /metrics

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
  c.run_io();
  if (sink) flush_sink(io, *sink, cold);
  if (cold) {
    // The running task may be stuck in user code: its message is already
    // back on its queue, so leave without waiting for it.
    std::fflush(nullptr);
    ::_exit(code);
  }
  return code;
}

}  // namespace celeriac::worker
