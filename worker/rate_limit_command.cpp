// `celeriac rate-limit`: sets, clears and lists the run-time rate limits of
// tasks, the hash celeriac.rate_limits that every worker on the Redis
// follows (lib/limiter/task_rates.hpp has what the values mean).

#include <algorithm>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "admin/redis_calls.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "limiter/task_rates.hpp"
#include "worker/admin_cli.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

const std::string rates_key(limiter::runtime_rates_key);

// How workers read a stored value, for the listing.
std::string meaning_of(const std::string& task, const std::string& text) {
  try {
    const auto lim = limiter::parse_task_rate(task, text);
    return lim ? "" : "  (no limit)";
  } catch (const std::invalid_argument& e) {
    return fmt::format("  (ignored by workers: {})", e.what());
  }
}

int list_rates(redis::sync_client& client) {
  redis::request req;
  req.push("HGETALL", rates_key);
  const auto replies = admin::exec_checked(client, req, "reading " + rates_key);
  const auto items = replies.at(0).elements().value();
  std::vector<std::pair<std::string, std::string>> rates;
  for (std::size_t i = 0; i + 1 < items.size(); i += 2)
    rates.emplace_back(admin::string_reply(items[i], rates_key), admin::string_reply(items[i + 1], rates_key));
  if (rates.empty()) {
    std::cerr << "no run-time rate limits (set one with: celeriac rate-limit NAME RATE)\n";
    return 0;
  }
  std::sort(rates.begin(), rates.end());
  std::size_t width = 0;
  for (const auto& r : rates) width = std::max(width, r.first.size());
  for (const auto& [task, text] : rates)
    std::cout << fmt::format("{:<{}}  {}{}\n", task, width, text, meaning_of(task, text));
  return 0;
}

int set_rate(redis::sync_client& client, const std::string& task, const std::string& text, bool limited) {
  redis::request req;
  req.push("HGET", rates_key, task).push("HSET", rates_key, task, text);
  const auto replies = admin::exec_checked(client, req, "setting a rate limit in " + rates_key);
  const std::string was = replies.at(0).is_nil() ? "not set" : admin::string_reply(replies.at(0), rates_key);
  if (limited)
    std::cout << fmt::format("{}: {} at run time, across every worker on this Redis (was: {})\n", task, text, was);
  else
    std::cout << fmt::format("{}: no limit at run time, whatever its --rate-limit flag or default (was: {})\n", task,
                             was);
  return 0;
}

int clear_rate(redis::sync_client& client, const std::string& task) {
  redis::request req;
  req.push("HGET", rates_key, task).push("HDEL", rates_key, task);
  const auto replies = admin::exec_checked(client, req, "clearing a rate limit in " + rates_key);
  if (replies.at(0).is_nil()) {
    std::cout << fmt::format("{}: had no run-time rate limit; nothing to clear\n", task);
    return 0;
  }
  std::cout << fmt::format(
      "{}: run-time rate limit {} removed; workers go back to its --rate-limit flag or the task's default\n", task,
      admin::string_reply(replies.at(0), rates_key));
  return 0;
}

}  // namespace

int rate_limit_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac rate-limit [NAME [RATE | --clear]] [options]\n\n"
      "Sets, clears or lists the run-time rate limits of tasks. They are kept in Redis\n"
      "(celeriac.rate_limits) and hold across every worker on it: RATE runs of task NAME per\n"
      "second, minute or hour in any window of that length. A run-time value overrides the\n"
      "workers' --rate-limit flags and the task's own default; \"0\", \"off\" or \"none\" means no\n"
      "limit even if those set one; --clear goes back to them.\n\n"
      "  celeriac rate-limit tasks.add 10/m      at most 10 runs of tasks.add a minute\n"
      "  celeriac rate-limit tasks.add off       no limit for tasks.add\n"
      "  celeriac rate-limit tasks.add --clear   back to the flag or the task's default\n"
      "  celeriac rate-limit                     list the run-time values\n\n"
      "Options");
  std::string broker, task, text;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("name", po::value(&task), "task name (positional)")
    ("rate", po::value(&text), "Celery's rate text: N/s, N/m, N/h, or 0/off/none (positional)")
    ("clear", "remove NAME's run-time rate limit");
  // clang-format on
  add_broker_option(opts, broker);
  po::positional_options_description pos;
  pos.add("name", 1).add("rate", 1);
  po::variables_map vm;
  if (auto done = parse_options("rate-limit", argc, argv, opts, vm, &pos)) return *done;
  auto usage_error = [](const std::string& msg) {
    std::cerr << "celeriac rate-limit: " << msg << "\nTry 'celeriac rate-limit --help'.\n";
    return exit_usage;
  };
  const bool clear = vm.count("clear") > 0;
  const bool has_rate = vm.count("rate") > 0;
  if (!vm.count("name")) {
    if (clear) return usage_error("--clear needs the task NAME");
    return with_broker("rate-limit", broker, list_rates);
  }
  if (task.empty()) return usage_error("the task NAME is empty");
  if (clear && has_rate) return usage_error("give a RATE or --clear, not both");
  if (clear) return with_broker("rate-limit", broker, [&](redis::sync_client& c) { return clear_rate(c, task); });
  if (!has_rate) return usage_error(fmt::format("missing the RATE for {}: e.g. 'celeriac rate-limit {} 10/m', or --clear", task, task));
  bool limited = false;
  try {
    limited = limiter::parse_task_rate(task, text).has_value();
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  }
  return with_broker("rate-limit", broker, [&](redis::sync_client& c) { return set_rate(c, task, text, limited); });
}

}  // namespace celeriac::cli
