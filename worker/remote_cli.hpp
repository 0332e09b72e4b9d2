#pragma once
// What `celeriac inspect` and `celeriac control` share: the options of
// Celery's `inspect` / `control` (-t/--timeout, -d/--destination,
// -j/--json, plus --broker), sending the command over the pidbox, and
// printing the replies and exit code as Celery's CLI does.

#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "redis/connection.hpp"
#include "worker/remote_commands.hpp"

namespace celeriac::cli {

// Exit codes, as Celery's CLI: 0 when at least one node replied;
// 69 (EX_UNAVAILABLE) with "Error: No nodes replied within time
// constraint" when none did, or when Redis cannot be reached; 64 for a
// bad command line (Celery's click exits 2 there).
inline constexpr int exit_no_reply = 69;

// Runs body on a fresh connection to the broker at `url` (the option,
// else CELERIAC_BROKER_URL, else the default) and returns its exit code.
// A bad URL is a usage error (exit_usage); when Redis cannot be reached
// or fails, says "celeriac <command>: <what>; <consequence>" on stderr
// and returns exit_no_reply.
int run_on_broker(std::string_view command, std::string url, std::string_view consequence,
                  const std::function<boost::asio::awaitable<int>(redis::connection&)>& body);

// Runs `celeriac <inspect|control> CMD [ARGS] [options]`; argv[0] is the
// command's name.
int run_remote_cli(remote_kind kind, int argc, char** argv);

}  // namespace celeriac::cli
