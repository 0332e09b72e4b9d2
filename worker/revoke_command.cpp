// `celeriac revoke ID...`: stores the ids in celeriac.revoked (so workers
// started later honour them) and broadcasts Celery's `revoke` control
// request (so running celeriac and Celery workers act now), then prints
// the replies as `celery control revoke` does.

#include <cctype>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "broker/pidbox.hpp"
#include "broker/revoked_store.hpp"
#include "celery/revoke_request.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "util/clock.hpp"
#include "worker/control_output.hpp"
#include "worker/remote_cli.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

// "SIGKILL" for "kill", "KILL" or "SIGKILL"; a number stays a number.
// Celery's workers accept either form; the SIG form is what its client sends.
std::string canonical_signal(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) && !name.starts_with("SIG"))
    name = "SIG" + name;
  return name;
}

struct revoke_settings {
  celery::revoke_arguments revoke;
  double revoked_expires = 10800;
  double timeout = 1;
  std::optional<std::vector<std::string>> destination;
};

boost::asio::awaitable<int> run_revoke(redis::connection& conn, const revoke_settings& s) {
  co_await conn.async_connect();
  const auto& ids = s.revoke.task_ids;
  if (s.revoked_expires > 0) {
    const auto until = util::wall_now() + std::chrono::duration_cast<std::chrono::microseconds>(
                                              std::chrono::duration<double>(s.revoked_expires));
    broker::revoked_store store(conn);
    co_await store.async_add(ids, until);
    std::cerr << fmt::format("celeriac revoke: {} task id(s) kept in {} until {}\n", ids.size(), broker::revoked_key,
                             util::iso8601_utc(until));
  }
  broker::broadcast_options options;
  options.destination = s.destination;
  options.reply_timeout = std::chrono::milliseconds(static_cast<long long>(s.timeout * 1000));
  auto result = co_await broker::async_broadcast(conn, std::string(celery::revoke_method),
                                                 celery::make_revoke_arguments(s.revoke), options);
  for (const auto& reply : result.replies) std::cout << format_control_reply(reply) << "\n";
  std::cout.flush();
  if (result.replies.empty()) {
    std::cerr << fmt::format(
        "celeriac revoke: No nodes replied within time constraint ({} s; {} listening on the pidbox). "
        "{}\n",
        s.timeout, result.listeners,
        s.revoked_expires > 0 ? "The revocation is stored: workers honour it when they see the task."
                              : "Nothing was stored (--revoked-expires 0): only running workers could act.");
  }
  co_return 0;
}

}  // namespace

int revoke_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac revoke TASK_ID... [options]\n\n"
      "Revokes tasks on every worker, celeriac's and Celery's: a revoked task that has not\n"
      "started is never run (its result is REVOKED); with --terminate, one already running is\n"
      "stopped by signalling its process. The ids are also kept in Redis (celeriac.revoked)\n"
      "for --revoked-expires seconds, so workers started later honour them. Prints each\n"
      "worker's reply, as `celery control revoke` does; exits 0 even when none replied.\n\n"
      "Options");
  std::vector<std::string> ids;
  std::string signal = "SIGTERM", destination, broker;
  revoke_settings s;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("task-id", po::value(&ids)->multitoken(), "task ids (positional)")
    ("terminate", "also stop the task if it is running (its process is signalled)")
    ("signal", po::value(&signal), "with --terminate: the signal, SIGTERM (default) or SIGKILL")
    ("revoked-expires", po::value(&s.revoked_expires)->default_value(10800),
        "seconds the revocation is kept in Redis for workers started later (0: not kept)")
    ("timeout,t", po::value(&s.timeout)->default_value(1.0), "seconds to wait for the workers' replies")
    ("destination,d", po::value(&destination), "comma-separated node names (default: every worker)")
    ("broker,b", po::value(&broker), "broker URL (env CELERIAC_BROKER_URL; default redis://127.0.0.1:6379/0)");
  // clang-format on
  po::positional_options_description pos;
  pos.add("task-id", -1);
  po::variables_map vm;
  if (auto done = parse_options("revoke", argc, argv, opts, vm, &pos)) return *done;
  auto usage_error = [](const std::string& msg) {
    std::cerr << "celeriac revoke: " << msg << "\n";
    return exit_usage;
  };
  if (ids.empty()) return usage_error("give at least one TASK_ID");
  s.revoke.task_ids = ids;
  s.revoke.terminate = vm.count("terminate") > 0;
  if (vm.count("signal") && !s.revoke.terminate)
    return usage_error("--signal only matters with --terminate (a task that has not started is never run)");
  if (!celery::signal_number(signal))
    return usage_error(fmt::format("--signal '{}' is not a signal name (use SIGTERM or SIGKILL)", signal));
  s.revoke.signal = canonical_signal(signal);
  if (s.revoked_expires < 0) return usage_error("--revoked-expires must be 0 or more seconds");
  if (s.timeout <= 0) return usage_error("--timeout must be more than 0 seconds");
  if (!destination.empty()) s.destination = comma_list(destination);

  return run_on_broker("revoke", broker, "nothing was revoked",
                       [&](redis::connection& conn) { return run_revoke(conn, s); });
}

}  // namespace celeriac::cli
