#pragma once
// One observation of a job's lifecycle, as a worker reports it, and the
// rules for combining two of them.
//
// The same rules run in two places: here, when the job store coalesces
// updates for one task id in memory, and in SQL, when a batch lands on rows
// other workers may also write (see job_writer.cpp). They are what make a
// write safe to repeat and safe to arrive late:
//   - a final state (SUCCESS, FAILURE, REVOKED) is only replaced by another
//     final state of the same or a later attempt;
//   - within one attempt, the state only moves forward
//     (RECEIVED < STARTED < PROGRESS < RETRY < final) and progress_done
//     never goes down;
//   - a later attempt (higher `attempts`) replaces a non-final state and may
//     start progress again from lower values;
//   - created_at keeps the earliest value seen, started_at and finished_at
//     the first one written.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "json/value.hpp"
#include "pg/job_label.hpp"
#include "pg/job_state.hpp"
#include "util/clock.hpp"

namespace celeriac::pg {

struct job_update {
  std::string task_id;  // required; at most max_task_id_bytes
  job_state state = job_state::received;
  // Fields left empty keep what is already recorded for the job.
  std::optional<label> name;   // task name, e.g. "tasks.csv_import"
  std::optional<label> queue;  // queue the message came from
  std::optional<std::int64_t> progress_done;
  std::optional<std::int64_t> progress_total;
  std::optional<std::string> progress_unit;  // "rows", "bytes", ...
  // Task-specific counters, e.g. {"rows_loaded": 1200, "rows_rejected": 3}.
  // Each update should carry the full set: the newer object replaces the
  // older one, it is not merged key by key.
  std::optional<json::value> meta;
  std::optional<std::string> message;  // short human-readable status
  std::optional<std::string> error;    // exception text for FAILURE/RETRY
  std::optional<std::string> result;   // the task's return value as JSON text
  // 1 for the first delivery; +1 for each retry or redelivery of the
  // message (derived from the message, so a repeated write carries the same
  // number and stays idempotent).
  int attempts = 1;
  std::optional<label> worker;  // "celeriac@host"
  std::optional<util::wall_time> created_at;
  std::optional<util::wall_time> started_at;
  std::optional<util::wall_time> finished_at;
};

// An update and the task id it is for, viewed where they are kept (the
// job store's buffer keeps each id once, as its key).
struct job_ref {
  std::string_view task_id;
  const job_update* update = nullptr;
};

// Bounds applied by normalize(); longer values are cut at a UTF-8 boundary.
inline constexpr std::size_t max_task_id_bytes = 255;
inline constexpr std::size_t max_label_bytes = 1024;        // name, queue, worker
inline constexpr std::size_t max_unit_bytes = 64;           // progress_unit (it goes into NOTIFY payloads)
inline constexpr std::size_t max_message_bytes = 64 * 1024;  // message, error
inline constexpr std::size_t max_result_bytes = 1024 * 1024;

// Makes an update safe to write: text fields become valid UTF-8 without NUL
// and are cut to the bounds above; a result over max_result_bytes is
// dropped and noted in `message`. Fills created_at (now), started_at (now,
// for STARTED and PROGRESS) and finished_at (now, for final states) when
// absent; attempts below 1 become 1.
// Returns false, changing nothing that matters, when the update cannot be
// recorded at all: an empty task id or one longer than max_task_id_bytes.
bool normalize(job_update& u, util::wall_time now);

// True when `incoming` replaces the recorded state of `current` under the
// rules above.
bool takes_over(const job_update& current, const job_update& incoming) noexcept;

// Folds `incoming` (the newer observation) into `current` under the rules
// above; both are for the same task id. Takes what it keeps from
// `incoming` (pass a copy to keep it whole).
void merge_into(job_update& current, job_update&& incoming);

}  // namespace celeriac::pg
