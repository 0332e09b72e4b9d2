#include "worker/admin_cli.hpp"

#include <unistd.h>

#include <iostream>

#include <boost/program_options.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/format.h>

#include "admin/confirm.hpp"
#include "admin/redis_calls.hpp"
#include "cli/cli_support.hpp"
#include "redis/config.hpp"

namespace celeriac::cli {

void add_broker_option(boost::program_options::options_description& opts, std::string& url) {
  opts.add_options()("broker,b", boost::program_options::value(&url),
                     "broker URL (env CELERIAC_BROKER_URL; default redis://127.0.0.1:6379/0)");
}

int with_broker(std::string_view command, std::string url, const std::function<int(redis::sync_client&)>& body) {
  if (url.empty()) url = env_or("CELERIAC_BROKER_URL", default_broker_url);
  auto cfg = redis::parse_url(url);
  if (!cfg) {
    std::cerr << fmt::format("celeriac {}: bad --broker URL: {}\n", command, cfg.error().message());
    return exit_usage;
  }
  const std::string where = redis::to_string(*cfg);  // password masked
  try {
    redis::sync_client client(*cfg);
    client.connect();
    return body(client);
  } catch (const boost::system::system_error& e) {
    std::cerr << fmt::format(
        "celeriac {}: cannot reach Redis at {}: {}. Is it running? Check --broker or CELERIAC_BROKER_URL.\n", command,
        where, e.code().message());
    return exit_unavailable;
  } catch (const admin::redis_failure& e) {
    std::cerr << fmt::format("celeriac {}: {} (Redis at {}); nothing more was done.\n", command, e.what(), where);
    return exit_failed;
  }
}

std::optional<int> refuse_without_terminal(std::string_view command, bool force) {
  if (admin::confirmation_needed(force, ::isatty(STDIN_FILENO) == 1) != admin::confirmation::refuse)
    return std::nullopt;
  std::cerr << fmt::format(
      "celeriac {}: refusing to delete without a confirmation: stdin is not a terminal. Add --force to run it "
      "from a script.\n",
      command);
  return exit_usage;
}

std::optional<int> ask_confirmation(std::string_view command, bool force, std::string_view warning) {
  if (auto refused = refuse_without_terminal(command, force)) return refused;
  if (force) return std::nullopt;
  std::cerr << warning << "\nThere is no undo. Type yes to go on (--force skips this question): " << std::flush;
  std::string answer;
  if (std::getline(std::cin, answer) && admin::confirmed(answer)) return std::nullopt;
  std::cerr << fmt::format("celeriac {}: not confirmed; nothing was deleted.\n", command);
  return exit_failed;
}

}  // namespace celeriac::cli
