#pragma once
// celeriac.llm.map_pending's engine: drains pending rows of llm_mappings.
//
// A preparer claims rows in chunks (a lease per row, FOR UPDATE SKIP
// LOCKED), answers what it can from the cache (exact, then near), reserves
// the names still unanswered (one call per name across the cluster) and
// queues them in batches; `concurrency` callers take batches off the queue
// and send them through the router, and each answer is written back in one
// transaction while the caller already sends its next batch. Database work
// runs on a small pg::pool, so it overlaps the HTTP calls instead of
// pausing them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "app/task_context.hpp"
#include "tasks/llm/llm_settings.hpp"

namespace celeriac::tasks::llm {

struct map_pending_options {
  std::size_t max_rows = 10000;
  std::size_t batch_size = 25;     // merchants per request
  std::size_t concurrency = 8;     // requests in flight
  std::optional<std::string> provider;  // only this provider (no failover)
  std::chrono::milliseconds lease{300'000};
  int max_attempts = 5;            // claims of one row before it is failed
};

struct map_pending_summary {
  std::int64_t rows_mapped = 0;
  std::int64_t rows_failed = 0;
  std::int64_t rows_deferred = 0;  // put back: their name was being asked elsewhere, or no provider answered
  std::int64_t cache_hits = 0;
  std::int64_t near_hits = 0;
  std::int64_t near_skipped = 0;  // chunks whose near-match lookup ran out of near_timeout
  std::int64_t heuristic_rows = 0;
  std::int64_t llm_calls = 0;
  std::int64_t tokens_in = 0;
  std::int64_t tokens_out = 0;
  double cost_usd = 0;
  double seconds = 0;
  std::int64_t keys_filled = 0;  // answered rows (uploads) given their merchant_key
  bool rows_remain = false;  // max_rows was reached with rows still pending (or rows still to key)
};

// Runs one sweep. Throws what the database throws (the caller maps a lost
// connection to a retry).
map_pending_summary run_map_pending(app::task_context& ctx, const map_pending_options& options,
                                    const llm_settings& settings);

}  // namespace celeriac::tasks::llm
