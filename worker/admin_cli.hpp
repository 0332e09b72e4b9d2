#pragma once
// What the operator commands (`celeriac dead`, `purge`, `queues`) share:
// the --broker option, connecting with clear errors and exit codes, and
// the confirmation asked before deleting messages.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/program_options/options_description.hpp>

#include "redis/sync_client.hpp"

namespace celeriac::cli {

inline constexpr int exit_failed = 1;        // done partly, refused by Redis, or not confirmed
inline constexpr int exit_unavailable = 69;  // Redis unreachable (sysexits' EX_UNAVAILABLE)

// Adds --broker/-b, stored in `url`.
void add_broker_option(boost::program_options::options_description& opts, std::string& url);

// Resolves the broker URL (the option, else CELERIAC_BROKER_URL, else the
// default), connects, and returns body(client). Reports on stderr, naming
// `command`: a bad URL (exit_usage), Redis unreachable or lost
// (exit_unavailable), an error reply (exit_failed).
int with_broker(std::string_view command, std::string url, const std::function<int(redis::sync_client&)>& body);

// Returns nullopt when a command deleting messages may go on: --force, or
// a person typed yes at the terminal after reading `warning`. Otherwise
// reports why on stderr and returns the exit code (exit_usage without a
// terminal, exit_failed when not confirmed).
std::optional<int> refuse_without_terminal(std::string_view command, bool force);
std::optional<int> ask_confirmation(std::string_view command, bool force, std::string_view warning);

}  // namespace celeriac::cli
