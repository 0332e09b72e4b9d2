#pragma once
// revoked_set: the task ids a worker must not run, each until its own
// expiry, bounded in size — what Celery's worker keeps in its LimitedSet
// `revoked` (maxlen 50,000, entries expiring after 3 hours), consulted for
// every message before it runs.
//
// Pure: the caller passes the time, so tests need no clock.

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/clock.hpp"

namespace celeriac::celery {

class revoked_set {
public:
  // Celery's worker_state.REVOKES_MAX.
  static constexpr std::size_t default_capacity = 50'000;

  explicit revoked_set(std::size_t capacity = default_capacity);

  // Remembers `id` until `expires_at`. An id already present keeps the
  // later of its two expiries. When the set is full, the entry that
  // expires first is dropped to make room (the oldest revocation, since
  // every worker uses one expiry period).
  void add(std::string id, util::wall_time expires_at);

  // True if `id` was revoked and its revocation has not expired at `now`.
  bool contains(std::string_view id, util::wall_time now) const;

  // Forgets every entry expired at `now`; returns how many.
  std::size_t purge(util::wall_time now);

  // Forgets `id` (e.g. a revocation withdrawn by an operator).
  void erase(std::string_view id);

  // Entries held, expired ones not yet purged included.
  std::size_t size() const noexcept { return expiry_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

  // The ids alive at `now`, soonest expiry first (for `inspect revoked`).
  std::vector<std::string> ids(util::wall_time now) const;

private:
  // Heterogeneous lookup, so contains() needs no std::string.
  struct id_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  std::size_t capacity_;
  std::unordered_map<std::string, util::wall_time, id_hash, std::equal_to<>> expiry_;
  std::set<std::pair<util::wall_time, std::string>> by_expiry_;  // eviction and purge order
};

}  // namespace celeriac::celery
