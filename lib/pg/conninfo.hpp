#pragma once
// Connection strings: what goes to libpq, and what may go to a log.
//
// libpq accepts both URLs (postgresql://user:pass@host:port/db?k=v) and
// key=value strings (host=... password=...); so do these functions.

#include <string>
#include <string_view>

namespace celeriac::pg {

// The connection string with any password replaced by "***", for logs and
// error messages: "postgresql://app:***@db:5432/jobs", "host=db password=***".
// Never throws on odd input; at worst it redacts more than needed.
std::string redact_conninfo(std::string_view conninfo);

// Adds `key=value` to the connection string unless it already sets `key`
// (as a URL query parameter or a key=value pair). Used to give every
// connection a connect_timeout and an application_name by default.
std::string with_default_param(std::string_view conninfo, std::string_view key, std::string_view value);

}  // namespace celeriac::pg
