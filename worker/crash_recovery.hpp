#pragma once
// The supervisor's side of a child's death: every message the child held is
// dealt with at once, not after the visibility timeout. Unstarted and
// eta-held ones go back to the front of their queues untouched; the one it
// was running is redelivered, failed or dead-lettered as crash_policy
// decides, with the task event Celery's worker would send for it
// (crash_events.hpp) when task events are on. Runs in the supervisor (no
// io_context of its own there), over a blocking Redis client, bounded in
// time.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "app/task_registry.hpp"
#include "celery/event_message.hpp"
#include "redis/sync_client.hpp"
#include "resp/value.hpp"
#include "worker/crash_policy.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

struct dead_child {
  pid_t pid = 0;
  int wait_status = 0;
  child_end end = child_end::crashed;
  std::optional<std::string> running_tag;  // nullopt: it was between tasks
  double hard_limit_seconds = 0;
  bool task_events = false;  // the node's task events were on (-E or remote enable_events)
};

class crash_recovery {
public:
  // `event_clock`: the node's Lamport clock (node_state), for the events.
  crash_recovery(const worker_settings& settings, const app::task_registry& registry,
                 std::atomic<std::int64_t>& event_clock);
  ~crash_recovery();

  // Deals with a dead child's messages. Returns false, after logging, when
  // Redis could not be reached or refused: the held set stays in Redis and
  // the caller tries again later (and the visibility timeout is the last
  // resort if the supervisor itself dies).
  bool recover(const dead_child& child);

private:
  struct connections;
  void run_recovery(const dead_child& child);
  boost::asio::awaitable<void> close_connections_of(redis::connection& conn, pid_t pid);
  void refused_client_commands(const resp::value& reply);  // warns once
  // PUBLISH of one task event in a message of its own, stamped now.
  void add_event(redis::request& req, std::string_view type, const json::object& fields);

  const worker_settings& settings_;
  const app::task_registry& registry_;
  std::unique_ptr<connections> conns_;
  celery::event_sender event_sender_;
  std::atomic<std::int64_t>& event_clock_;
  bool client_commands_refused_ = false;
};

}  // namespace celeriac::worker
