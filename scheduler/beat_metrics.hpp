#pragma once
// What `celeriac beat --metrics-port` exposes: ticks sent and how late,
// ticks another instance had already sent, Redis errors, and whether this
// instance leads. Everything runs on beat's one io_context thread (the
// loop counts, the /metrics server renders), so nothing is locked.
// Every metric is listed in docs/operations.md#metrics.

#include <string>

#include "metrics/registry.hpp"

namespace celeriac::scheduler {

class beat_metrics {
public:
  explicit beat_metrics(const std::string& schedule_name);

  // A tick's message was pushed `lag_seconds` after the tick's time, as
  // `unix_tick` (the tick's own time, unix seconds).
  void tick_sent(const std::string& entry, const std::string& task, double lag_seconds, double unix_tick);
  // Another instance had already sent this tick.
  void tick_already_sent(const std::string& entry);
  // A step failed (Redis unreachable, a timeout, a refused write).
  void redis_error();

  // The exposition; `leader` is read at the scrape.
  std::string render(bool leader);

private:
  metrics::registry registry_;
  metrics::counter& sent_;
  metrics::histogram& lag_;
  metrics::gauge& last_tick_;
  metrics::counter& already_;
  metrics::counter& errors_;
  metrics::gauge& leader_;
};

}  // namespace celeriac::scheduler
