// `celeriac dead list|requeue|purge`: the dead-letter list without redis-cli.

#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "admin/dead_format.hpp"
#include "admin/dead_letters.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "worker/admin_cli.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

constexpr const char* dead_usage =
    "Usage: celeriac dead list|requeue|purge [options]\n\n"
    "The dead-letter list (celeriac.dead): messages workers could not run.\n"
    "  list      show entries, newest first\n"
    "  requeue   put messages back on their queue (--id TASK_ID or --all)\n"
    "  purge     delete entries for good\n\n"
    "Run 'celeriac dead SUBCOMMAND --help' for its options.\n";

constexpr const char* reason_help =
    "only entries of this reason (unknown_task, bad_arguments, worker_lost, no_delivery_tag, ...; "
    "decode_error = every message that could not be decoded)";

// A hint when a --reason matched nothing because it is not a code celeriac writes.
void hint_unknown_reason(const admin::dead_filter& filter, std::size_t matched) {
  if (matched > 0 || !filter.reason || admin::is_known_reason(*filter.reason)) return;
  std::string known;
  for (auto r : admin::known_reasons()) known += fmt::format("{}{}", known.empty() ? "" : ", ", r);
  std::cerr << fmt::format("note: celeriac writes no reason '{}'; it writes {}, and decode_error stands for the "
                           "decoding ones\n",
                           *filter.reason, known);
}

int list_command(int argc, char** argv) {
  po::options_description opts("Usage: celeriac dead list [options]\n\nShows dead-lettered messages, newest first.\n\nOptions");
  std::string broker, reason;
  std::size_t limit = 20;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("limit", po::value(&limit)->default_value(20), "show at most this many entries")
    ("reason", po::value(&reason), reason_help)
    ("json", "one JSON object per line on stdout (the summary goes to stderr)");
  // clang-format on
  add_broker_option(opts, broker);
  po::variables_map vm;
  if (auto done = parse_options("dead list", argc, argv, opts, vm)) return *done;
  admin::dead_filter filter;
  if (vm.count("reason")) filter.reason = reason;
  const bool as_json = vm.count("json") > 0;
  return with_broker("dead list", broker, [&](redis::sync_client& client) {
    const auto listing = admin::list_dead(client, filter, limit);
    for (const auto& item : listing.shown)
      std::cout << (as_json ? admin::format_dead_json(item.index, item.entry) + "\n"
                            : admin::format_dead_row(item.index, item.entry));
    std::cout << std::flush;
    (as_json ? std::cerr : std::cout)
        << admin::describe_listing(listing.total, listing.matched, listing.shown.size(), filter) << "\n";
    hint_unknown_reason(filter, listing.matched);
    return 0;
  });
}

std::string describe_task(const admin::indexed_entry& item) {
  return fmt::format("#{} {} ({})", item.index, admin::task_label(item.entry),
                     item.entry.reason.empty() ? "?" : item.entry.reason);
}

// "celery", or "celery (priority step 3)" for a message on a priority list.
std::string describe_destination(const admin::requeue_outcome& o) {
  if (o.list == o.queue) return o.queue;
  return fmt::format("{} (priority step {})", o.queue, o.list.back());
}

int requeue_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac dead requeue (--id TASK_ID | --all) [--reason R] [options]\n\n"
      "Puts dead-lettered messages back at the back of their queue (their priority list), removes their\n"
      "entries and resets their crash counts, each in one atomic step. Entries without a readable message\n"
      "(no_delivery_tag, raw_base64) are left where they are.\n\nOptions");
  std::string broker, reason, id;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("id", po::value(&id), "requeue the entries of this task id (the message's headers.id)")
    ("all", "requeue every entry (with --reason: every entry of that reason)")
    ("reason", po::value(&reason), reason_help);
  // clang-format on
  add_broker_option(opts, broker);
  po::variables_map vm;
  if (auto done = parse_options("dead requeue", argc, argv, opts, vm)) return *done;
  const bool all = vm.count("all") > 0;
  if (all == (vm.count("id") > 0)) {
    std::cerr << "celeriac dead requeue: give --id TASK_ID or --all (not both; --reason narrows either)\n"
                 "Try 'celeriac dead requeue --help'.\n";
    return exit_usage;
  }
  admin::dead_filter filter;
  if (vm.count("reason")) filter.reason = reason;
  if (!all) filter.task_id = id;
  return with_broker("dead requeue", broker, [&](redis::sync_client& client) {
    const auto outcomes = admin::requeue_dead(client, filter);
    if (outcomes.empty()) {
      std::cout << fmt::format("nothing to requeue: no entries{}{} in celeriac.dead\n",
                               filter.task_id ? " of task id " + *filter.task_id : "",
                               filter.reason ? " with reason " + *filter.reason : "");
      hint_unknown_reason(filter, 0);
      return all ? 0 : exit_failed;
    }
    std::size_t requeued = 0, refused = 0;
    for (const auto& o : outcomes) {
      switch (o.state) {
        case admin::requeue_outcome::status::requeued:
          ++requeued;
          std::cout << fmt::format("requeued {} to {}\n", describe_task(o.item), describe_destination(o));
          break;
        case admin::requeue_outcome::status::gone:
          std::cout << fmt::format("skipped {}: someone else removed the entry meanwhile\n", describe_task(o.item));
          break;
        case admin::requeue_outcome::status::refused:
          ++refused;
          std::cout << fmt::format("left {}: cannot be requeued: {}\n", describe_task(o.item), o.detail);
          break;
      }
    }
    std::cout << fmt::format("{} of {} matching {} requeued", requeued, outcomes.size(),
                             outcomes.size() == 1 ? "entry" : "entries");
    if (refused > 0) std::cout << fmt::format("; {} left in celeriac.dead", refused);
    std::cout << "\n";
    // A named task that could not be requeued is a failure; --all reports and succeeds.
    return !all && requeued == 0 ? exit_failed : 0;
  });
}

int purge_dead_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac dead purge [--reason R] [--force] [options]\n\n"
      "Deletes dead-letter entries for good: all of them, or those of one reason. Asks for a typed 'yes'\n"
      "on a terminal; refuses without a terminal unless --force.\n\nOptions");
  std::string broker, reason;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("reason", po::value(&reason), reason_help)
    ("force,f", "do not ask for confirmation");
  // clang-format on
  add_broker_option(opts, broker);
  po::variables_map vm;
  if (auto done = parse_options("dead purge", argc, argv, opts, vm)) return *done;
  const bool force = vm.count("force") > 0;
  if (auto refused = refuse_without_terminal("dead purge", force)) return *refused;
  admin::dead_filter filter;
  if (vm.count("reason")) filter.reason = reason;
  return with_broker("dead purge", broker, [&](redis::sync_client& client) {
    const auto listing = admin::list_dead(client, filter, 0);
    const std::string which = filter.reason ? fmt::format(" with reason {}", *filter.reason) : "";
    if (listing.matched == 0) {
      std::cout << fmt::format("nothing to delete: no entries{} in celeriac.dead\n", which);
      hint_unknown_reason(filter, 0);
      return 0;
    }
    const std::string warning = fmt::format("WARNING: this deletes {} of the {} entries of celeriac.dead{}.",
                                            listing.matched, listing.total, which);
    if (auto stop = ask_confirmation("dead purge", force, warning)) return *stop;
    const std::size_t deleted = admin::purge_dead(client, filter);
    std::cout << fmt::format("deleted {} {} from celeriac.dead\n", deleted, deleted == 1 ? "entry" : "entries");
    return 0;
  });
}

}  // namespace

int dead_command(int argc, char** argv) {
  const std::string_view sub = argc >= 2 ? argv[1] : "";
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::cout << dead_usage;
    return 0;
  }
  // Each subcommand sees argv shifted so that argv[0] is its own name.
  if (sub == "list") return list_command(argc - 1, argv + 1);
  if (sub == "requeue") return requeue_command(argc - 1, argv + 1);
  if (sub == "purge") return purge_dead_command(argc - 1, argv + 1);
  if (sub.empty())
    std::cerr << "celeriac dead: missing the subcommand\n\n" << dead_usage;
  else
    std::cerr << "celeriac dead: unknown subcommand '" << sub << "'\n\n" << dead_usage;
  return exit_usage;
}

}  // namespace celeriac::cli
