#pragma once
// One refresh of one materialized view, coalesced across the cluster.
//
// Never two refreshes of a view at once: a session advisory lock keyed by
// the view's oid. Requests that arrive while a refresh runs merge into one
// follow-up: each request takes a generation number (celeriac_view_refreshes
// .requested_gen) before it waits for the lock; a refresh records the
// newest generation it covers before it starts (started_gen) and when it
// commits (completed_gen). A request that gets the lock and finds its
// generation completed was served by a refresh that started after it
// arrived, and returns "coalesced" without refreshing again.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <pqxx/connection>

#include "tasks/views/view_catalog.hpp"

namespace celeriac::tasks::views {

// The class half of the two-int advisory lock key, "celv" in ASCII
// (0x63656C76 = 1667591286): pg_advisory_lock(refresh_lock_class, oid::int).
// The two-int form lives in its own key space, apart from one-bigint
// locks, and the class keeps it apart from other two-int users that key
// by small numbers.
inline constexpr std::int32_t refresh_lock_class = 0x63656C76;

struct advisory_key {
  std::int32_t class_id = refresh_lock_class;
  std::int32_t object_id = 0;  // the view's oid, as PostgreSQL's oid::int casts it (wrapping above 2^31)
};

advisory_key lock_key(const view_info& view) noexcept;

struct refresh_options {
  bool concurrently = true;
  std::optional<double> lock_timeout_seconds;       // waiting for the view's lock and the REFRESH's locks
  std::optional<double> statement_timeout_seconds;  // the REFRESH itself
};

struct refresh_result {
  std::string view;  // schema.name
  std::string mode;  // concurrently, plain or coalesced
  double seconds = 0;
  std::int64_t rows = 0;
};

// A lock or statement timeout ran out; the message names the view and the
// timeouts.
class refresh_timeout : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The view was dropped between finding it and refreshing it.
class view_dropped : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Refreshes `view` (as find_view returned it), or coalesces into a refresh
// that started after this call. Throws refresh_timeout, view_dropped, and
// what libpqxx throws otherwise. The advisory lock is released however it
// ends.
refresh_result refresh_view(pqxx::connection& c, const view_info& view, const refresh_options& options);

}  // namespace celeriac::tasks::views
