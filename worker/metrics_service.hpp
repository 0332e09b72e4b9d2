#pragma once
// Where a worker node's /metrics is served from, and the children's part
// in it (worker/node_metrics.hpp holds the numbers).
//
// Why the first child serves, not the supervisor: the supervisor forks
// children for as long as it runs. A thread of its own would not be copied
// into them, but whatever that thread held at the moment of a fork would
// be, in that state: the allocator's and the logger's locks, an Asio
// reactor half-way through an update, a connection mid-write. And the
// listening socket would leak into every later child, keeping the port
// bound after the supervisor was gone. The supervisor's loop is a
// sigtimedwait with nothing to multiplex sockets on, and it must stay the
// part that never breaks. So child 1 (index 0) serves: it never forks;
// the endpoint runs on a third thread with its own io_context and its own
// Redis connection, so a scrape neither waits on the consumer's io thread
// nor holds up the task on the executor thread; and everything it serves
// comes from the shared table, so what the other children and the
// supervisor counted is there too. When child 1 dies, /metrics answers
// again as soon as its replacement starts; the counters live in the
// supervisor's mapping and lose nothing.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "worker/child_slots.hpp"
#include "worker/job_store_sink.hpp"
#include "worker/node_metrics.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

// Maps the node's metrics table and installs it for the children forked
// after it, when the worker runs with --metrics-port; null otherwise.
std::unique_ptr<node_metrics> make_node_metrics(const worker_settings& s, const std::vector<std::string>& task_names,
                                                std::size_t child_slots);

// Whether --metrics-bind:--metrics-port can be listened on, tried before
// anything is forked so a taken port or a bad address stops the start
// with the reason. nullopt: fine, or metrics are off.
std::optional<std::string> metrics_port_problem(const worker_settings& s);

// A child's part, for as long as it lives: every child with a job store
// publishes its backlog to the table each second; child index 0 also
// serves /metrics. Does nothing without a table.
class child_metrics {
public:
  child_metrics(boost::asio::io_context& io, const worker_settings& s, int index, const child_slots& slots,
                const job_store_sink* sink);
  ~child_metrics();
  child_metrics(const child_metrics&) = delete;
  child_metrics& operator=(const child_metrics&) = delete;

private:
  struct publisher;
  class endpoint;
  std::shared_ptr<publisher> publisher_;
  std::unique_ptr<endpoint> endpoint_;
};

}  // namespace celeriac::worker
