// `celeriac purge`: deletes the waiting messages of queues, as `celery purge`.

#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "admin/purge.hpp"
#include "admin/queue_list.hpp"
#include "admin/queue_stats.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "worker/admin_cli.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

std::string joined(const std::vector<broker::queue_name>& queues) {
  std::string out;
  for (const auto& q : queues) out += fmt::format("{}{}", out.empty() ? "" : ", ", q.str());
  return out;
}

}  // namespace

int purge_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac purge [-Q q1,q2] [--force] [options]\n\n"
      "Deletes every message waiting in the queues (all priority lists, and the delayed set\n"
      "celeriac.delayed.<queue>), as `celery purge` does. Messages being run or held by workers\n"
      "(`unacked`) are left alone, and the queues stay declared. Asks for a typed 'yes' on a terminal;\n"
      "refuses without a terminal unless --force.\n\nOptions");
  std::string broker, queues_text;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("queues,Q", po::value(&queues_text)->default_value("celery"), "comma-separated queues to purge")
    ("force,f", "do not ask for confirmation");
  // clang-format on
  add_broker_option(opts, broker);
  po::variables_map vm;
  if (auto done = parse_options("purge", argc, argv, opts, vm)) return *done;
  auto queues = admin::parse_queue_list(queues_text);
  if (!queues || queues->empty()) {
    std::cerr << "celeriac purge: -Q: " << (queues ? "no queue given" : queues.error().message) << "\n";
    return exit_usage;
  }
  const bool force = vm.count("force") > 0;
  if (auto refused = refuse_without_terminal("purge", force)) return *refused;
  return with_broker("purge", broker, [&](redis::sync_client& client) {
    if (!force) {
      std::int64_t waiting = 0, delayed = 0;
      for (const auto& s : admin::read_queue_stats(client, *queues)) {
        waiting += s.waiting();
        delayed += s.delayed;
      }
      const std::string warning = fmt::format(
          "WARNING: this removes every waiting task from queue(s) {}: {} waiting, {} delayed.", joined(*queues),
          waiting, delayed);
      if (auto stop = ask_confirmation("purge", force, warning)) return *stop;
    }
    std::int64_t total = 0;
    for (const auto& p : admin::purge_queues(client, *queues)) {
      std::cout << fmt::format("{}: purged {} waiting, {} delayed\n", p.queue.str(), p.waiting, p.delayed);
      total += p.waiting + p.delayed;
    }
    std::cout << fmt::format("Purged {} {} from {} {}.\n", total, total == 1 ? "message" : "messages", queues->size(),
                             queues->size() == 1 ? "queue" : "queues");
    return 0;
  });
}

}  // namespace celeriac::cli
