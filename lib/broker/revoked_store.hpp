#pragma once
// Revoked task ids kept in Redis, so a worker started (or restarted) after
// a revoke still honours it — Celery keeps them only in worker memory
// unless a state file is configured.
//
//   celeriac.revoked   sorted set: member = task id, score = unix time the
//                      revocation expires (revoke time + --revoked-expires)
//
// Writers (`celeriac revoke`, a worker obeying Celery's revoke broadcast)
// add; workers load the live entries into a celery::revoked_set at start
// and drop expired ones now and then.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "celery/revoked_set.hpp"
#include "redis/connection.hpp"
#include "util/clock.hpp"

namespace celeriac::broker {

inline constexpr std::string_view revoked_key = "celeriac.revoked";

struct revoked_entry {
  std::string task_id;
  util::wall_time expires_at;
};

class revoked_store {
public:
  explicit revoked_store(redis::connection& conn) : conn_(conn) {}

  // Revokes `task_ids` until `expires_at`. An id already stored keeps the
  // later expiry (ZADD GT). Throws system_error when Redis cannot be
  // reached, std::runtime_error when it refuses.
  boost::asio::awaitable<void> async_add(std::span<const std::string> task_ids, util::wall_time expires_at);

  // The revocations alive at `now`, the latest-expiring (newest) first, at
  // most `limit` of them (a worker's revoked_set holds no more).
  boost::asio::awaitable<std::vector<revoked_entry>> async_load(
      util::wall_time now, std::size_t limit = celery::revoked_set::default_capacity);

  // async_load into `into`; returns how many entries were read.
  boost::asio::awaitable<std::size_t> async_load_into(celery::revoked_set& into, util::wall_time now);

  // Deletes the entries expired at `now` (ZREMRANGEBYSCORE); returns how many.
  boost::asio::awaitable<std::int64_t> async_drop_expired(util::wall_time now);

private:
  redis::connection& conn_;
};

}  // namespace celeriac::broker
