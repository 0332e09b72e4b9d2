#pragma once
// What `celeriac queues` shows about each queue, and how (pure).

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace celeriac::admin {

struct queue_stats {
  std::string queue;
  // LLEN of the queue's lists for kombu's priority steps 0, 3, 6, 9.
  std::array<std::int64_t, 4> waiting_by_step{};
  std::int64_t unacked = 0;  // entries of `unacked` routed to this queue
  std::int64_t delayed = 0;  // members of celeriac.delayed.<queue>
  std::optional<double> next_due{};  // unix seconds the first delayed member goes back

  std::int64_t waiting() const noexcept;
};

// The queue a binding set member names, or nullopt for the sets of
// kombu's broadcast and event exchanges (`*.pidbox`, `celeryev`), whose
// queues are not task queues, and for a member without two separators.
// `key` is the set's name ("_kombu.binding.celery").
std::optional<std::string> queue_of_binding(std::string_view key, std::string_view member);

// "2026-11-22 03:25:22 UTC (in 4m 10s)", or "(12s ago)" for a time past.
std::string describe_due(double due, double now);

// "4m 10s", "2h 5m", "3d 1h", "12s".
std::string human_duration(double seconds);

// The table: QUEUE, WAITING, UNACKED, DELAYED, NEXT DUE; one row a queue.
std::string format_queue_table(std::span<const queue_stats> queues, double now);

// One JSON object a queue: {"queue", "waiting", "waiting_by_priority":
// {"0": n, "3": n, "6": n, "9": n}, "unacked", "delayed", "next_due"}.
std::string format_queue_json(const queue_stats& q);

}  // namespace celeriac::admin
