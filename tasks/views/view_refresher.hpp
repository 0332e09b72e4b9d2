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
#include <string>

#include <pqxx/connection>

#include "tasks/views/view_catalog.hpp"

namespace celeriac::tasks::views {

// The class half of the advisory lock key ("celv"), so these locks never
// collide with an application's own advisory locks on small integers.
inline constexpr std::int64_t refresh_lock_class = 0x63656C76;

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

// The refresh (or the coalescing). Throws refresh_timeout when a lock or
// statement timeout ran out, and what libpqxx throws otherwise.
refresh_result refresh_view(pqxx::connection& c, const view_info& view, const refresh_options& options);

class refresh_timeout : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

std::int64_t advisory_key(const view_info& view) noexcept;

}  // namespace celeriac::tasks::views
