#include "tasks/views/view_refresher.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "util/log.hpp"

namespace celeriac::tasks::views {
namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

// A PostgreSQL duration setting; at least 1 ms, because 0 would mean "no
// timeout".
std::string as_setting(double seconds) {
  return std::to_string(std::max<long long>(1, std::llround(seconds * 1000))) + "ms";
}

bool is_timeout(const pqxx::sql_error& e) {
  // 55P03 lock_not_available (lock_timeout), 57014 query_canceled (statement_timeout).
  return e.sqlstate() == "55P03" || e.sqlstate() == "57014";
}

std::string describe(const std::optional<double>& seconds) {
  return seconds ? fmt::format("{}s", *seconds) : std::string("none");
}

[[noreturn]] void throw_timeout(const view_info& v, const refresh_options& o, const pqxx::sql_error& e) {
  throw refresh_timeout(fmt::format(
      "refreshing materialized view {} gave up: {} (lock_timeout {}, statement_timeout {}); "
      "raise the timeouts, or retry when the view is not busy",
      v.qualified(), e.what(), describe(o.lock_timeout_seconds), describe(o.statement_timeout_seconds)));
}

// Holds the view's advisory lock; releases it however the refresh ends
// (a broken connection has released it with the session).
class view_lock {
public:
  view_lock(pqxx::connection& c, const view_info& v, const refresh_options& o) : c_(c), key_(lock_key(v)) {
    pqxx::nontransaction tx{c_};
    // lock_timeout bounds pg_advisory_lock's wait too. Session-level here
    // (there is no transaction to scope it to), so it is reset after.
    if (o.lock_timeout_seconds)
      tx.exec_params("SELECT set_config('lock_timeout', $1, false)", as_setting(*o.lock_timeout_seconds));
    try {
      tx.exec_params("SELECT pg_advisory_lock($1, $2)", key_.class_id, key_.object_id);
    } catch (const pqxx::sql_error& e) {
      if (o.lock_timeout_seconds) tx.exec("RESET lock_timeout");
      if (is_timeout(e)) throw_timeout(v, o, e);
      throw;
    }
    if (o.lock_timeout_seconds) tx.exec("RESET lock_timeout");
  }
  ~view_lock() {
    try {
      pqxx::nontransaction tx{c_};
      tx.exec_params("SELECT pg_advisory_unlock($1, $2)", key_.class_id, key_.object_id);
    } catch (const std::exception& e) {
      log::debug("releasing a view refresh lock failed ({}); it goes with the session", e.what());
    }
  }
  view_lock(const view_lock&) = delete;
  view_lock& operator=(const view_lock&) = delete;

private:
  pqxx::connection& c_;
  advisory_key key_;
};

std::int64_t oid_param(const view_info& v) { return static_cast<std::int64_t>(v.oid); }

// Bumps the view's requested generation and returns it, committed at once
// so that a refresh starting from now on covers it.
std::int64_t request_generation(pqxx::connection& c, const view_info& v) {
  pqxx::nontransaction tx{c};
  return tx
      .exec_params1(
          "INSERT INTO celeriac_view_refreshes (view_oid, view_name, requested_gen) VALUES ($1::bigint::oid, $2, 1) "
          "ON CONFLICT (view_oid) DO UPDATE SET requested_gen = celeriac_view_refreshes.requested_gen + 1, "
          "view_name = EXCLUDED.view_name RETURNING requested_gen",
          oid_param(v), v.qualified())[0]
      .as<std::int64_t>();
}

std::int64_t completed_generation(pqxx::connection& c, const view_info& v) {
  pqxx::nontransaction tx{c};
  return tx.exec_params1("SELECT completed_gen FROM celeriac_view_refreshes WHERE view_oid = $1::bigint::oid",
                         oid_param(v))[0]
      .as<std::int64_t>();
}

std::int64_t count_rows(pqxx::connection& c, const view_info& v) {
  pqxx::nontransaction tx{c};
  const bool populated =
      tx.exec_params1("SELECT relispopulated FROM pg_class WHERE oid = $1::bigint::oid", oid_param(v))[0].as<bool>();
  if (!populated) return 0;  // reading it would fail
  return tx.exec1("SELECT count(*) FROM " + v.quoted(c))[0].as<std::int64_t>();
}

// Marks every request so far as covered, then refreshes and records the
// completion in the REFRESH's own transaction, so completed_gen moves
// exactly when the new contents become visible. (REFRESH ... CONCURRENTLY
// may run inside a transaction block, unlike CREATE INDEX CONCURRENTLY.)
double run_refresh(pqxx::connection& c, const view_info& v, bool concurrently, const refresh_options& o) {
  std::int64_t covered = 0;
  {
    pqxx::work tx{c};
    covered = tx.exec_params1("UPDATE celeriac_view_refreshes SET started_gen = requested_gen, "
                              "last_started_at = now() WHERE view_oid = $1::bigint::oid RETURNING started_gen",
                              oid_param(v))[0]
                  .as<std::int64_t>();
    tx.commit();
  }
  const auto started = clock_type::now();
  pqxx::work tx{c};
  if (o.lock_timeout_seconds)
    tx.exec_params("SELECT set_config('lock_timeout', $1, true)", as_setting(*o.lock_timeout_seconds));
  if (o.statement_timeout_seconds)
    tx.exec_params("SELECT set_config('statement_timeout', $1, true)", as_setting(*o.statement_timeout_seconds));
  // Built only from the catalog's own names, quoted.
  tx.exec(std::string("REFRESH MATERIALIZED VIEW ") + (concurrently ? "CONCURRENTLY " : "") + v.quoted(c));
  const double seconds = seconds_since(started);
  tx.exec_params("UPDATE celeriac_view_refreshes SET completed_gen = $2, last_finished_at = now(), "
                 "last_seconds = $3, last_mode = $4 WHERE view_oid = $1::bigint::oid",
                 oid_param(v), covered, seconds, concurrently ? "concurrently" : "plain");
  tx.commit();
  return seconds;
}

bool use_concurrently(const view_info& v, const refresh_options& o) {
  if (!o.concurrently) return false;
  if (v.populated && v.has_unique_index) return true;
  log::info("refreshing {} without CONCURRENTLY: {}", v.qualified(),
            !v.populated ? "it has never been populated (CONCURRENTLY needs existing contents)"
                         : "it has no valid unique index on plain columns without a WHERE clause");
  return false;
}

}  // namespace

advisory_key lock_key(const view_info& view) noexcept {
  return advisory_key{refresh_lock_class, static_cast<std::int32_t>(view.oid)};
}

refresh_result refresh_view(pqxx::connection& c, const view_info& requested, const refresh_options& o) {
  const auto arrived = clock_type::now();
  try {
    const std::int64_t generation = request_generation(c, requested);
    refresh_result r;
    std::optional<view_info> now;
    {
      view_lock lock(c, requested, o);
      // Read again under the lock: a refresh meanwhile may have populated
      // it, its indexes may have changed, or it may be gone.
      now = find_view(c, requested.oid);
      if (!now)
        throw view_dropped(fmt::format("materialized view {} was dropped before it could be refreshed",
                                       requested.qualified()));
      r.view = now->qualified();
      if (completed_generation(c, *now) >= generation) {
        r.mode = "coalesced";
        r.seconds = seconds_since(arrived);
      } else {
        const bool concurrently = use_concurrently(*now, o);
        r.mode = concurrently ? "concurrently" : "plain";
        r.seconds = run_refresh(c, *now, concurrently, o);
      }
    }
    // Counted after the lock is released, so coalesced requests do not
    // queue behind each other's count.
    r.rows = count_rows(c, *now);
    return r;
  } catch (const pqxx::sql_error& e) {
    if (is_timeout(e)) throw_timeout(requested, o, e);
    throw;
  }
}

}  // namespace celeriac::tasks::views
