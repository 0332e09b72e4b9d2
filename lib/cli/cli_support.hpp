#pragma once
// Small pieces shared by the subcommands: environment defaults and the
// usage-error exit code.

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace celeriac::cli {

// Exit code for bad command-line usage (as sysexits' EX_USAGE).
inline constexpr int exit_usage = 64;

// The value of environment variable name, or fallback when unset/empty.
inline std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

// "a,b,,c" -> {"a", "b", "c"}: a comma-separated option such as
// --destination, as Celery's COMMA_SEPARATED_LIST reads it (empty parts dropped).
inline std::vector<std::string> comma_list(std::string_view text) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    if (const auto part = text.substr(0, comma); !part.empty()) parts.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

inline constexpr const char* default_broker_url = "redis://127.0.0.1:6379/0";

// Fills an empty --database from CELERIAC_DATABASE_URL. Returns false, after
// telling the user on stderr, when neither names a database.
inline bool resolve_database_url(std::string_view command, std::string& database) {
  if (database.empty()) database = env_or("CELERIAC_DATABASE_URL", "");
  if (!database.empty()) return true;
  std::cerr << "celeriac " << command << ": no database: give --database URL or set CELERIAC_DATABASE_URL\n";
  return false;
}

}  // namespace celeriac::cli
