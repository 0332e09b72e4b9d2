#include "worker/remote_cli.hpp"

#include <chrono>
#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "broker/pidbox.hpp"
#include "cli/cli_support.hpp"
#include "cli/parse_options.hpp"
#include "worker/control_output.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

struct remote_call {
  const remote_command* command = nullptr;
  json::object arguments;
  double timeout = 1.0;
  std::optional<std::vector<std::string>> destination;
  bool as_json = false;
};

std::string_view kind_name(remote_kind kind) { return kind == remote_kind::inspect ? "inspect" : "control"; }

// The --help text: usage, then every command with Celery's signature and description.
std::string usage_text(remote_kind kind) {
  std::string text = fmt::format(
      "Usage: celeriac {0} CMD [ARGS] [options]\n\n"
      "Sends Celery's `{0}` remote-control command CMD to every worker on the broker\n"
      "(celeriac's and Celery's), or to those named by --destination, and prints their\n"
      "replies as `celery {0}` does (--json: one JSON {1}).\n"
      "ARGS are CMD's, as `celery {0}` takes them. Exits 0 when a worker replied,\n"
      "69 when none did within --timeout or Redis cannot be reached, 64 for a bad\n"
      "command line.\n\nCommands:\n",
      kind_name(kind), kind == remote_kind::inspect ? "object {node: reply}" : "list [{node: reply}, ...]");
  for (const auto& c : remote_commands(kind))
    text += fmt::format("  {}{}{}\n      {}\n", c.name, c.signature.empty() ? "" : " ", c.signature, c.help);
  return text + "\nOptions";
}

// Sends the command and prints the replies; returns the exit code.
boost::asio::awaitable<int> call(redis::connection& conn, remote_kind kind, const remote_call& c) {
  co_await conn.async_connect();
  broker::broadcast_options options;
  options.destination = c.destination;
  options.reply_timeout = std::chrono::milliseconds(static_cast<long long>(c.timeout * 1000));
  auto result = co_await broker::async_broadcast(conn, std::string(c.command->name), c.arguments, options);
  if (result.replies.empty()) {
    std::cerr << fmt::format(
        "Error: No nodes replied within time constraint\n"
        "celeriac {}: {} connection(s) were listening on the pidbox; a worker may need a longer --timeout{}.\n",
        kind_name(kind), result.listeners,
        c.command->name == "revoke" ? "; `celeriac revoke ID...` also keeps the ids for workers started later" : "");
    co_return exit_no_reply;
  }
  std::cout << (c.as_json ? format_replies_json(kind, result.replies) : format_replies(kind, result.replies));
  std::cout.flush();
  co_return 0;
}

}  // namespace

int run_on_broker(std::string_view command, std::string url, std::string_view consequence,
                  const std::function<boost::asio::awaitable<int>(redis::connection&)>& body) {
  if (url.empty()) url = env_or("CELERIAC_BROKER_URL", default_broker_url);
  auto broker_cfg = redis::parse_url(url);
  if (!broker_cfg) {
    std::cerr << fmt::format("celeriac {}: bad --broker URL: {}\n", command, broker_cfg.error().message());
    return exit_usage;
  }
  boost::asio::io_context io;
  redis::connection conn(io.get_executor(), *broker_cfg);
  int code = 0;
  boost::asio::co_spawn(io, body(conn), [&](std::exception_ptr e, int result) {
    conn.close();
    code = result;
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      // The connection's errors name the address (password masked).
      std::cerr << fmt::format("celeriac {}: {}; {}. Check --broker or CELERIAC_BROKER_URL.\n", command, ex.what(),
                               consequence);
    }
    code = exit_no_reply;
  });
  io.run();
  return code;
}

int run_remote_cli(remote_kind kind, int argc, char** argv) {
  const std::string name(kind_name(kind));
  po::options_description opts(usage_text(kind));
  std::vector<std::string> words;
  std::string destination, broker;
  remote_call c;
  const std::string json_help = "print the replies as JSON, as `celery " + name + " --json` does";
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("words", po::value(&words)->multitoken(), "CMD and its arguments (positional)")
    ("timeout,t", po::value(&c.timeout)->default_value(1.0), "seconds to wait for the workers' replies")
    ("destination,d", po::value(&destination), "comma-separated node names (default: every worker)")
    ("json,j", json_help.c_str())
    ("broker,b", po::value(&broker), "broker URL (env CELERIAC_BROKER_URL; default redis://127.0.0.1:6379/0)");
  // clang-format on
  po::positional_options_description pos;
  pos.add("words", -1);
  po::variables_map vm;
  if (auto done = parse_options(name, argc, argv, opts, vm, &pos)) return *done;
  auto usage_error = [&](const std::string& msg) {
    std::cerr << fmt::format("celeriac {}: {}\nTry 'celeriac {} --help'.\n", name, msg, name);
    return exit_usage;
  };
  if (words.empty()) return usage_error("give a command, e.g. `celeriac " + name + " " +
                                        (kind == remote_kind::inspect ? "ping`" : "rate_limit tasks.add 10/m`"));
  c.command = find_remote_command(kind, words.front());
  if (!c.command) {
    std::string names;
    for (const auto& known : remote_commands(kind)) names += (names.empty() ? "" : ", ") + std::string(known.name);
    return usage_error(fmt::format("no {} command '{}'; the commands are: {}", name, words.front(), names));
  }
  auto arguments = compile_arguments(*c.command, std::span(words).subspan(1));
  if (!arguments) return usage_error(arguments.error().message);
  c.arguments = std::move(*arguments);
  if (!(c.timeout > 0)) return usage_error("--timeout must be more than 0 seconds");
  if (!destination.empty()) c.destination = comma_list(destination);
  c.as_json = vm.count("json") > 0;
  return run_on_broker(name, broker, "nothing was sent",
                       [&](redis::connection& conn) { return call(conn, kind, c); });
}

}  // namespace celeriac::cli
