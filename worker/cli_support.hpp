#pragma once
// Small pieces shared by the subcommands: environment defaults and the
// usage-error exit code.

#include <cstdlib>
#include <string>

namespace celeriac::cli {

// Exit code for bad command-line usage (as sysexits' EX_USAGE).
inline constexpr int exit_usage = 64;

// The value of environment variable name, or fallback when unset/empty.
inline std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

inline constexpr const char* default_broker_url = "redis://127.0.0.1:6379/0";

}  // namespace celeriac::cli
