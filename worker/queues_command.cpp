// `celeriac queues`: depth, unacked and delayed messages per queue.

#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "admin/dead_letters.hpp"
#include "admin/queue_list.hpp"
#include "admin/queue_stats.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "util/clock.hpp"
#include "worker/admin_cli.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

int queues_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac queues [-Q q1,q2] [--json] [options]\n\n"
      "Per queue: messages waiting (all priority lists), unacked (fetched by a worker: running or\n"
      "held), delayed (waiting in Redis for their eta or a rate limit) and when the next delayed one\n"
      "goes back; then the number of dead letters. Without -Q: every queue kombu's bindings, the delayed\n"
      "sets and the unacked messages name.\n\nOptions");
  std::string broker, queues_text;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("queues,Q", po::value(&queues_text), "comma-separated queues to show (default: all known)")
    ("json", "one JSON object per queue and line, then {\"dead_letters\": N}");
  // clang-format on
  add_broker_option(opts, broker);
  po::variables_map vm;
  if (auto done = parse_options("queues", argc, argv, opts, vm)) return *done;
  auto queues = admin::parse_queue_list(queues_text);
  if (!queues) {
    std::cerr << "celeriac queues: -Q: " << queues.error().message << "\n";
    return exit_usage;
  }
  const bool as_json = vm.count("json") > 0;
  return with_broker("queues", broker, [&](redis::sync_client& client) {
    const auto stats = admin::read_queue_stats(client, *queues);
    const std::int64_t dead = admin::dead_count(client);
    if (as_json) {
      for (const auto& s : stats) std::cout << admin::format_queue_json(s) << "\n";
      std::cout << fmt::format("{{\"dead_letters\": {}}}\n", dead);
      return 0;
    }
    if (stats.empty())
      std::cout << "no queues found (no kombu bindings, delayed sets or unacked messages)\n";
    else
      std::cout << admin::format_queue_table(stats, util::unix_seconds(util::wall_now()));
    std::cout << fmt::format("dead letters: {} in celeriac.dead{}\n", dead, dead > 0 ? " (celeriac dead list)" : "");
    return 0;
  });
}

}  // namespace celeriac::cli
