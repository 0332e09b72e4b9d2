#pragma once
// The lifecycle states a job goes through, spelled as Celery spells them so
// that `celeriac_jobs.state` reads like Celery's own task states.
//
// Within one attempt the states are ordered (RECEIVED < STARTED < PROGRESS <
// RETRY < final). The order is what lets the job store apply updates that
// arrive late or twice without moving a job backwards.

#include <optional>
#include <string_view>

namespace celeriac::pg {

enum class job_state { received, started, progress, retry, success, failure, revoked };

// "RECEIVED", "STARTED", "PROGRESS", "RETRY", "SUCCESS", "FAILURE", "REVOKED".
std::string_view to_string(job_state s) noexcept;

// Parses the upper-case names above (exactly; the column holds them so).
// Returns nullopt for anything else.
std::optional<job_state> parse_job_state(std::string_view text) noexcept;

// SUCCESS, FAILURE and REVOKED: nothing but another final state of the same
// or a later attempt may replace them.
constexpr bool is_final(job_state s) noexcept {
  return s == job_state::success || s == job_state::failure || s == job_state::revoked;
}

// Position within an attempt: 0 RECEIVED, 1 STARTED, 2 PROGRESS, 3 RETRY,
// 4 for every final state. Mirrors the SQL function celeriac_job_state_rank.
constexpr int state_rank(job_state s) noexcept {
  switch (s) {
    case job_state::received: return 0;
    case job_state::started: return 1;
    case job_state::progress: return 2;
    case job_state::retry: return 3;
    default: return 4;
  }
}

}  // namespace celeriac::pg
