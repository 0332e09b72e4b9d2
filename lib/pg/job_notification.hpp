#pragma once
// The payloads of NOTIFY celeriac_jobs, both ways: the job store packs the
// rows a batch wrote into a few payloads, listeners unpack them.
//
// A payload is a JSON array with one object per written row, the row as
// stored after the write, its progress fields present only when set:
//   [{"task_id":"3f2a...","state":"SUCCESS"},
//    {"task_id":"9b1c...","state":"PROGRESS","progress_done":400,"progress_total":1000,"progress_unit":"rows"}]
// A batch sends as many payloads as its rows need (NOTIFY takes less than
// 8000 bytes), one NOTIFY each, rather than one per row: see
// docs/postgres.md for why.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/job_state.hpp"

namespace celeriac::pg {

// One written row, as a payload carries it.
struct job_notification {
  std::string task_id;
  job_state state = job_state::received;
  std::optional<std::int64_t> progress_done;
  std::optional<std::int64_t> progress_total;
  std::optional<std::string> progress_unit;
};

// Largest payload the packer makes. PostgreSQL refuses 8000 bytes or more;
// one row's object is at most about 2,300 bytes (a 255-byte task id and a
// 64-byte unit, every byte \u-escaped).
inline constexpr std::size_t max_notification_bytes = 7900;

// Packs rows into payloads of at most max_notification_bytes, in the
// order they are added.
class job_notification_packer {
public:
  void add(std::string_view task_id, std::string_view state, std::optional<std::int64_t> progress_done,
           std::optional<std::int64_t> progress_total, std::optional<std::string_view> progress_unit);
  // The payloads; the packer is left empty.
  std::vector<std::string> finish();

private:
  std::string entry_;  // reused for each row's object
  std::string current_;
  std::vector<std::string> done_;
};

// Decodes a celeriac_jobs payload: an array of row objects, or one row
// object (what workers before the batched payloads sent). Entries that are
// not job rows (no task_id, unknown state) are skipped; a payload that is
// not JSON gives an empty vector.
std::vector<job_notification> parse_job_notifications(std::string_view payload);

}  // namespace celeriac::pg
