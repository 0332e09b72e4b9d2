#include "tasks/views/view_refresher.hpp"

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

std::string millis(double seconds) { return std::to_string(std::llround(seconds * 1000)) + "ms"; }

bool is_timeout(const pqxx::sql_error& e) {
  // 55P03 lock_not_available (lock_timeout), 57014 query_canceled (statement_timeout).
  return e.sqlstate() == "55P03" || e.sqlstate() == "57014";
}

[[noreturn]] void throw_timeout(const view_info& v, const refresh_options& o, const pqxx::sql_error& e) {
  throw refresh_timeout(fmt::format(
      "refreshing {} gave up: {} (lock_timeout {}, statement_timeout {}); raise the timeouts or retry later",
      v.qualified(), e.what(), o.lock_timeout_seconds ? fmt::format("{}s", *o.lock_timeout_seconds) : "none",
      o.statement_timeout_seconds ? fmt::format("{}s", *o.statement_timeout_seconds) : "none"));
}

// Holds the view's advisory lock; releases it however the refresh ends
// (a broken connection has released it with the session).
class view_lock {
public:
  view_lock(pqxx::connection& c, const view_info& v, const refresh_options& o) : c_(c), key_(advisory_key(v)) {
    pqxx::nontransaction tx{c_};
    if (o.lock_timeout_seconds) tx.exec("SET lock_timeout = '" + millis(*o.lock_timeout_seconds) + "'");
    try {
      tx.exec_params("SELECT pg_advisory_lock($1)", key_);
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
      tx.exec_params("SELECT pg_advisory_unlock($1)", key_);
    } catch (const std::exception& e) {
      log::debug("releasing a view refresh lock failed ({}); it goes with the session", e.what());
    }
  }
  view_lock(const view_lock&) = delete;
  view_lock& operator=(const view_lock&) = delete;

private:
  pqxx::connection& c_;
  std::int64_t key_;
};

std::int64_t request_generation(pqxx::connection& c, const view_info& v) {
  pqxx::nontransaction tx{c};
  return tx
      .exec_params1(
          "INSERT INTO celeriac_view_refreshes (view_oid, view_name, requested_gen) VALUES ($1::bigint::oid, $2, 1) "
          "ON CONFLICT (view_oid) DO UPDATE SET requested_gen = celeriac_view_refreshes.requested_gen + 1, "
          "view_name = EXCLUDED.view_name RETURNING requested_gen",
          static_cast<std::int64_t>(v.oid), v.qualified())[0]
      .as<std::int64_t>();
}

std::int64_t count_rows(pqxx::connection& c, const view_info& v) {
  pqxx::nontransaction tx{c};
  if (!tx.exec_params1("SELECT relispopulated FROM pg_class WHERE oid = $1::bigint::oid",
                       static_cast<std::int64_t>(v.oid))[0]
           .as<bool>())
    return 0;
  return tx.exec1("SELECT count(*) FROM " + v.quoted(c))[0].as<std::int64_t>();
}

}  // namespace

std::int64_t advisory_key(const view_info& view) noexcept {
  return (refresh_lock_class << 32) | static_cast<std::int64_t>(view.oid);
}

refresh_result refresh_view(pqxx::connection& c, const view_info& requested, const refresh_options& o) {
  const auto arrived = clock_type::now();
  const std::int64_t generation = request_generation(c, requested);
  view_lock lock(c, requested, o);

  // Read again under the lock: another refresh may have populated it or
  // changed its indexes meanwhile.
  view_info v = find_view(c, requested.quoted(c)).value_or(requested);
  refresh_result r;
  r.view = v.qualified();
  std::int64_t completed = 0;
  {
    pqxx::nontransaction tx{c};
    completed = tx.exec_params1("SELECT completed_gen FROM celeriac_view_refreshes WHERE view_oid = $1::bigint::oid",
                                static_cast<std::int64_t>(v.oid))[0]
                    .as<std::int64_t>();
  }
  if (completed >= generation) {
    r.mode = "coalesced";
    r.seconds = std::chrono::duration<double>(clock_type::now() - arrived).count();
    r.rows = count_rows(c, v);
    return r;
  }

  const bool concurrently = o.concurrently && v.populated && v.has_unique_index;
  if (o.concurrently && !concurrently)
    log::info("refreshing {} without CONCURRENTLY: {}", v.qualified(),
              !v.populated ? "it has never been populated" : "it has no unique index on plain columns");
  r.mode = concurrently ? "concurrently" : "plain";
  const auto started = clock_type::now();
  try {
    pqxx::work tx{c};
    const auto covered = tx.exec_params1("UPDATE celeriac_view_refreshes SET started_gen = requested_gen, "
                                         "last_started_at = now() WHERE view_oid = $1::bigint::oid "
                                         "RETURNING started_gen",
                                         static_cast<std::int64_t>(v.oid))[0]
                             .as<std::int64_t>();
    tx.commit();
    pqxx::work refresh{c};
    if (o.lock_timeout_seconds) refresh.exec("SET LOCAL lock_timeout = '" + millis(*o.lock_timeout_seconds) + "'");
    if (o.statement_timeout_seconds)
      refresh.exec("SET LOCAL statement_timeout = '" + millis(*o.statement_timeout_seconds) + "'");
    refresh.exec(std::string("REFRESH MATERIALIZED VIEW ") + (concurrently ? "CONCURRENTLY " : "") + v.quoted(c));
    r.seconds = std::chrono::duration<double>(clock_type::now() - started).count();
    refresh.exec_params("UPDATE celeriac_view_refreshes SET completed_gen = $2, last_finished_at = now(), "
                        "last_seconds = $3, last_mode = $4 WHERE view_oid = $1::bigint::oid",
                        static_cast<std::int64_t>(v.oid), covered, r.seconds, r.mode);
    refresh.commit();
  } catch (const pqxx::sql_error& e) {
    if (is_timeout(e)) throw_timeout(v, o, e);
    throw;
  }
  r.rows = count_rows(c, v);
  return r;
}

}  // namespace celeriac::tasks::views
