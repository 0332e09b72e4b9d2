#include "scheduler/beat_metrics.hpp"

namespace celeriac::scheduler {

beat_metrics::beat_metrics(const std::string& schedule_name)
    : sent_(registry_.add_counter("celeriac_beat_ticks_sent_total",
                                  "Task messages this beat instance sent, one per tick, by schedule entry and task.",
                                  {"entry", "task"})),
      lag_(registry_.add_histogram("celeriac_beat_tick_lag_seconds",
                                   "How long after its tick's time each message was sent (catch-up runs after an "
                                   "outage or a takeover included), by schedule entry.",
                                   {"entry"},
                                   {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300})),
      last_tick_(registry_.add_gauge("celeriac_beat_last_tick_seconds",
                                     "The time of the last tick this instance sent, by schedule entry (unix seconds).",
                                     {"entry"})),
      already_(registry_.add_counter("celeriac_beat_ticks_already_sent_total",
                                     "Ticks this instance found already sent by another instance (not sent again).",
                                     {"entry"})),
      errors_(registry_.add_counter("celeriac_beat_redis_errors_total",
                                    "Steps that failed on Redis (unreachable, timed out, refused); each is retried.")),
      leader_(registry_.add_gauge("celeriac_beat_leader",
                                  "1 while this instance holds the schedule's lease and sends ticks, else 0.")) {
  registry_.add_gauge("celeriac_beat_info", "Always 1; its label names this instance's schedule.", {"schedule"})
      .set({schedule_name}, 1);
}

void beat_metrics::tick_sent(const std::string& entry, const std::string& task, double lag_seconds,
                             double unix_tick) {
  sent_.inc({entry, task});
  lag_.observe({entry}, lag_seconds);
  last_tick_.set({entry}, unix_tick);
}

void beat_metrics::tick_already_sent(const std::string& entry) { already_.inc({entry}); }

void beat_metrics::redis_error() { errors_.inc({}); }

std::string beat_metrics::render(bool leader) {
  leader_.set({}, leader ? 1 : 0);
  return registry_.render();
}

}  // namespace celeriac::scheduler
