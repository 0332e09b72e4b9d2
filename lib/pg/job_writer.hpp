#pragma once
// The SQL side of the job store: a batch of job updates is copied (COPY)
// into a temporary staging table and upserted into celeriac_jobs from it
// in ONE statement, and the written rows are announced with a few
// NOTIFY celeriac_jobs (job_notification.hpp), all in one transaction.
// docs/postgres.md says why this shape and what it costs.
//
// The upsert applies the rules of job_update.hpp in SQL, against whatever
// the row holds (other workers write it too), so that writing the same
// batch twice leaves the rows as writing it once: a COMMIT in doubt may be
// repeated (only updated_at moves).

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/connection>

#include "pg/job_update.hpp"

namespace celeriac::pg {

// LISTEN on this channel to follow job changes. Each payload lists rows as
// written (see job_notification.hpp; parse_job_notifications decodes it).
inline constexpr std::string_view jobs_channel = "celeriac_jobs";

// Upserts `updates` (distinct task ids, normalized) in one transaction and
// announces the written rows. Returns the number of rows written. An empty
// span does nothing. Throws what libpqxx throws; nothing is written then
// unless the exception is pqxx::in_doubt_error, and repeating is safe.
std::size_t write_jobs(pqxx::connection& c, std::span<const job_ref> updates);
std::size_t write_jobs(pqxx::connection& c, std::span<const job_update> updates);

// The COPY text write_jobs sends for `updates`, handed to `send` in chunks
// of whole rows (each ended by a newline) of about copy_chunk_bytes: small
// enough for the allocator to serve from its free lists, large enough to
// be few calls. `send` may change the text; it is cleared afterwards.
inline constexpr std::size_t copy_chunk_bytes = 64 * 1024;
void encode_copy_rows(std::span<const job_ref> updates, const std::function<void(std::string& rows)>& send);

// Views of `updates` with their own task ids.
std::vector<job_ref> refs_of(std::span<const job_update> updates);

struct rejected_update {
  std::string task_id;
  std::string reason;  // the server's message
};

// Fallback when a batch is refused for its data (failure_kind::data): writes
// each update in its own transaction. An update refused again is retried
// without meta and result (with a note in message) so its state still
// lands; one refused even then is returned. Connection failures propagate
// (what was written stays written; repeating is safe).
std::vector<rejected_update> write_jobs_one_by_one(pqxx::connection& c, std::span<const job_ref> updates);

}  // namespace celeriac::pg
