#pragma once
// Outcomes the supervisor decides (a task failed with WorkerLostError or
// TimeLimitExceeded, or dead-lettered as worker_lost) must reach
// celeriac_jobs in PostgreSQL too, but the supervisor holds no database
// connection (it forks children; a libpq thread pool there is unsafe). It
// leaves them in the Redis list celeriac.job_outcomes; the first child of
// a worker running with --database moves them into its job store.
// Pure: the entry's text both ways.

#include <optional>
#include <string>
#include <string_view>

namespace celeriac::worker {

inline constexpr std::string_view job_outcomes_key = "celeriac.job_outcomes";

struct job_outcome {
  std::string queue;
  std::string state;  // FAILURE
  std::string error;  // "WorkerLostError: Worker exited prematurely: ..."
  std::string raw;    // the task's envelope
};

std::string encode_job_outcome(const job_outcome& o);
// nullopt when the text is not an entry this code wrote.
std::optional<job_outcome> decode_job_outcome(std::string_view text);

}  // namespace celeriac::worker
