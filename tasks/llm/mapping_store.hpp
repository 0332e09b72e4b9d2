#pragma once
// The LLM mapping family's SQL: claiming pending rows of llm_mappings,
// the merchant_mappings cache, the per-name request reservations that keep
// one call per name across the cluster, and writing answers back.
//
// Every function runs its statements on the connection it is given (the
// caller chooses the thread: a pg::pool thread for map_pending, the task
// thread for map_merchant) and takes its values as parameters; arrays go
// as one text parameter each (pg::array_literal) and are unnested by the
// server, so a batch is one statement.
//
// Claims are leases: a row is held by a claim token until
// claim_expires_at, and only the holder's token can write its answer. A
// worker killed mid-batch leaves its rows to be claimed again when the
// lease ends; reservations of names (merchant_mapping_requests) end the
// same way.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

namespace celeriac::tasks::llm {

struct claimed_row {
  std::int64_t id = 0;
  std::string merchant_name;
  int attempts = 0;  // deliveries of this row to a claimer, this one included
};

// Claims up to `limit` pending rows without a category, oldest id first,
// skipping rows another claimer holds (FOR UPDATE SKIP LOCKED) and rows
// whose lease has not ended. Commits before returning.
std::vector<claimed_row> claim_pending(pqxx::connection& c, const std::string& token, std::size_t limit,
                                       std::chrono::milliseconds lease);

// How many rows wait for a claim (pending, no category), for progress.
std::int64_t count_pending(pqxx::connection& c);

// A cached (or near) answer for one normalized name.
struct cached_answer {
  std::string key;          // the name asked for
  std::string matched_key;  // the cache row that answered (== key for an exact hit)
  std::string category;
  std::optional<std::string> ticker;
  double confidence = 0;
  std::string source;       // the cache row's source: llm, heuristic or admin
  std::string provider;
  std::string model;
  bool admin_approved = false;
  double similarity = 1.0;  // 1 for an exact hit
};

// Exact hits among `keys`. Heuristic answers are skipped when
// `accept_heuristic` is false (a real model is configured and should
// replace them).
std::vector<cached_answer> lookup_exact(pqxx::connection& c, const std::vector<std::string>& keys,
                                        bool accept_heuristic);

// Near hits for `keys` (pg_trgm similarity >= threshold), answered only by
// approved or confident (>= min_confidence) model or admin mappings.
// Returns nullopt when the lookup took longer than `budget` (abandoned:
// the names count as misses).
std::optional<std::vector<cached_answer>> lookup_near(pqxx::connection& c, const std::vector<std::string>& keys,
                                                      double threshold, double min_confidence,
                                                      std::chrono::milliseconds budget);

// True when pg_trgm is installed in this database.
bool near_matches_available(pqxx::connection& c);

// Reserves the names no one else is asking a model about (or whose
// holder's lease ended); returns the reserved ones. Commits.
std::vector<std::string> reserve_names(pqxx::connection& c, const std::vector<std::string>& keys,
                                       const std::string& token, std::chrono::milliseconds lease);

// Ends this token's reservations of `keys` (after a failed call, so the
// names may be asked again).
void release_names(pqxx::connection& c, const std::vector<std::string>& keys, const std::string& token);

// Puts claimed rows back for a later claim after `delay` (their name is
// being asked by another worker), not counting this claim as an attempt.
void defer_rows(pqxx::connection& c, const std::vector<std::int64_t>& ids, const std::string& token,
                std::chrono::milliseconds delay);

// Rows that already have an answer but no merchant_key (uploads that
// arrived with a category): up to `limit`, oldest first.
std::vector<claimed_row> unkeyed_rows(pqxx::connection& c, std::size_t limit);

// Writes the keys of such rows (only where none is set yet). Returns how
// many were written.
std::size_t fill_keys(pqxx::connection& c, const std::vector<std::pair<std::int64_t, std::string>>& keys);

// A model's (or the heuristic provider's) answer for one name, to cache.
struct model_answer {
  std::string key;
  std::string category;
  std::optional<std::string> ticker;
  double confidence = 0;
  std::string source;  // llm or heuristic
  std::string provider;
  std::string model;
};

// What becomes of one claimed row.
struct row_outcome {
  std::int64_t id = 0;
  std::string key;
  bool mapped = false;  // false: failed, with error
  std::string category;
  std::optional<std::string> ticker;
  std::optional<double> confidence;
  std::string source;  // cache, near, llm, heuristic
  std::string provider;
  std::string model;
  std::string error;
};

// One row of ai_interactions.
struct interaction {
  std::string job_id;
  std::string provider;
  std::string model;
  int merchants = 0;
  std::int64_t tokens_in = 0;
  std::int64_t tokens_out = 0;
  double latency_ms = 0;
  double cost_usd = 0;
  std::optional<int> http_status;
  std::string error;
  int cache_hits = 0;
  int near_hits = 0;
  int cache_misses = 0;
};

struct write_batch {
  std::vector<model_answer> answers;     // cached (never over an admin-approved row)
  std::vector<row_outcome> rows;         // written where this token still holds the claim
  std::vector<std::string> done_names;   // reservations to end
  std::vector<std::pair<std::string, std::int64_t>> hits;  // cache rows that answered, and how often
  std::vector<interaction> interactions;
};

// Writes a batch in one transaction; returns how many rows were written
// (rows whose claim this token lost to an expired lease are not).
std::size_t write_results(pqxx::connection& c, const std::string& token, const write_batch& batch);

}  // namespace celeriac::tasks::llm
