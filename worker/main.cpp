// celeriac: one executable, one subcommand per job.

#include <cstring>
#include <iostream>
#include <string_view>

#include "cli/cli_support.hpp"
#include "cli/commands.hpp"

namespace {

constexpr const char* usage =
    "Usage: celeriac COMMAND [options]\n"
    "\n"
    "A Celery-compatible background job engine on Redis.\n"
    "\n"
    "Commands:\n"
    "  worker    run a pool of worker processes consuming task queues\n"
    "  call      send a task (and optionally wait for its result)\n"
    "  revoke    stop tasks on every worker (celeriac's and Celery's); ids kept in Redis\n"
    "  inspect   ask the workers (ping, active, stats...), as celery inspect does\n"
    "  control   tell the workers (rate_limit, pool_grow, shutdown...), as celery control does\n"
    "  beat      fire cron and interval schedule entries, exactly once across instances\n"
    "  migrate   create or update celeriac's tables in PostgreSQL\n"
    "  status    show a job's state and progress (--watch: a live progress bar)\n"
    "  jobs      list recent jobs and their states\n"
    "  queues    waiting, unacked and delayed messages per queue, and the dead-letter count\n"
    "  purge     delete the waiting messages of queues (asks first)\n"
    "  dead      the dead-letter list: list, requeue, purge\n"
    "  rate-limit  set, clear or list tasks' cluster-wide rate limits at run time\n"
    "  version   print the version\n"
    "\n"
    "Run 'celeriac COMMAND --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << usage;
    return celeriac::cli::exit_usage;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << usage;
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "celeriac " << CELERIAC_VERSION << "\n";
    return 0;
  }
  // Each command sees argv shifted so that argv[0] is its own name.
  if (cmd == "worker") return celeriac::cli::worker_command(argc - 1, argv + 1);
  if (cmd == "call") return celeriac::cli::call_command(argc - 1, argv + 1);
  if (cmd == "revoke") return celeriac::cli::revoke_command(argc - 1, argv + 1);
  if (cmd == "inspect") return celeriac::cli::inspect_command(argc - 1, argv + 1);
  if (cmd == "control") return celeriac::cli::control_command(argc - 1, argv + 1);
  if (cmd == "beat") return celeriac::cli::beat_command(argc - 1, argv + 1);
  if (cmd == "migrate") return celeriac::cli::migrate_command(argc - 1, argv + 1);
  if (cmd == "status") return celeriac::cli::status_command(argc - 1, argv + 1);
  if (cmd == "jobs") return celeriac::cli::jobs_command(argc - 1, argv + 1);
  if (cmd == "queues") return celeriac::cli::queues_command(argc - 1, argv + 1);
  if (cmd == "purge") return celeriac::cli::purge_command(argc - 1, argv + 1);
  if (cmd == "dead") return celeriac::cli::dead_command(argc - 1, argv + 1);
  if (cmd == "rate-limit") return celeriac::cli::rate_limit_command(argc - 1, argv + 1);
  std::cerr << "celeriac: unknown command '" << cmd << "'\n\n" << usage;
  return celeriac::cli::exit_usage;
}
