// `celeriac call`: publishes one task message as Celery's send_task would
// and, with --wait, prints its result as JSON.

#include <iostream>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "app/client.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "util/clock.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

// Exit codes of `celeriac call --wait` besides 0 and usage errors.
constexpr int exit_task_failed = 1;   // FAILURE or REVOKED
constexpr int exit_timeout = 2;       // no result within --timeout
constexpr int exit_unreadable = 65;   // the stored result cannot be read (EX_DATAERR)
constexpr int exit_unavailable = 69;  // broker unreachable (EX_UNAVAILABLE)

}  // namespace

int call_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac call NAME [options]\n\n"
      "Sends task NAME (a Celery protocol v2 message, as send_task does) and prints its id.\n"
      "With --wait, prints the result as JSON on stdout; exits 1 on FAILURE/REVOKED (error on\n"
      "stderr), 2 on timeout, 65 at once when the stored result cannot be read (the reason on stderr).\n\n"
      "Options");
  std::string name, args_text, kwargs_text, queue, eta, broker, backend;
  double countdown = -1, expires = -1, timeout = 30, time_limit = 0, soft_time_limit = 0;
  int priority = 0;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("name", po::value(&name), "task name (positional)")
    ("args", po::value(&args_text)->default_value("[]"), "positional arguments as a JSON list")
    ("kwargs", po::value(&kwargs_text)->default_value("{}"), "keyword arguments as a JSON object")
    ("queue,Q", po::value(&queue)->default_value("celery"), "queue to send to")
    ("countdown", po::value(&countdown), "run no earlier than this many seconds from now")
    ("eta", po::value(&eta), "run no earlier than this ISO-8601 time (e.g. 2026-11-22T10:00:00+00:00)")
    ("expires", po::value(&expires), "seconds after which the task is revoked instead of run")
    ("priority", po::value(&priority)->default_value(0), "0-9; with Redis a LOWER number is served first")
    ("time-limit", po::value(&time_limit), "hard time limit in seconds for this call (header timelimit[0], as "
                                           "apply_async(time_limit=) sends): past it the worker kills the run")
    ("soft-time-limit", po::value(&soft_time_limit), "soft time limit in seconds for this call (timelimit[1]): past "
                                                     "it the task is told to stop")
    ("wait", "wait for the result and print it as JSON")
    ("timeout", po::value(&timeout)->default_value(30), "seconds --wait waits")
    ("broker,b", po::value(&broker), "broker URL (env CELERIAC_BROKER_URL; default redis://127.0.0.1:6379/0)")
    ("result-backend", po::value(&backend), "result backend URL (env CELERIAC_RESULT_BACKEND; default: broker)");
  // clang-format on
  po::positional_options_description pos;
  pos.add("name", 1);
  po::variables_map vm;
  if (auto done = parse_options("call", argc, argv, opts, vm, &pos)) return *done;
  auto usage_error = [](const std::string& msg) {
    std::cerr << "celeriac call: " << msg << "\n";
    return exit_usage;
  };
  if (name.empty()) return usage_error("missing the task NAME");
  auto args = json::parse(args_text);
  if (!args || !args->is_array()) return usage_error("--args must be a JSON list, e.g. '[2, 3]'");
  auto kwargs = json::parse(kwargs_text);
  if (!kwargs || !kwargs->is_object()) return usage_error("--kwargs must be a JSON object, e.g. '{\"x\": 1}'");
  if (vm.count("countdown") && vm.count("eta")) return usage_error("give --countdown or --eta, not both");

  celery::message_options options;
  options.queue = queue;
  if (vm.count("countdown")) options.countdown = countdown;
  if (vm.count("eta")) {
    auto t = util::parse_iso8601(eta);
    if (!t) return usage_error(fmt::format("--eta '{}' is not an ISO-8601 time", eta));
    options.eta = *t;
  }
  if (vm.count("expires")) options.expires_in = expires;
  // A limit that is given must be positive: "no limit" is not giving it.
  auto seconds_flag = [&](const char* flag, double value, std::optional<double>& out) -> std::optional<int> {
    if (!vm.count(flag)) return std::nullopt;
    if (!(value > 0)) return usage_error(fmt::format("--{} must be a positive number of seconds", flag));
    out = value;
    return std::nullopt;
  };
  if (auto bad = seconds_flag("time-limit", time_limit, options.time_limit)) return *bad;
  if (auto bad = seconds_flag("soft-time-limit", soft_time_limit, options.soft_time_limit)) return *bad;
  options.priority = priority;

  if (broker.empty()) broker = env_or("CELERIAC_BROKER_URL", default_broker_url);
  auto broker_cfg = redis::parse_url(broker);
  if (!broker_cfg) return usage_error(fmt::format("bad --broker URL: {}", broker_cfg.error().message()));
  if (backend.empty()) backend = env_or("CELERIAC_RESULT_BACKEND", broker);
  auto backend_cfg = redis::parse_url(backend);
  if (!backend_cfg) return usage_error(fmt::format("bad --result-backend URL: {}", backend_cfg.error().message()));

  bool wait = vm.count("wait") > 0;
  boost::asio::io_context io;
  app::client client(io.get_executor(), *broker_cfg, *backend_cfg);
  int code = 0;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        co_await client.async_connect();
        std::string id = co_await client.async_send_task(name, std::move(args->as_array()),
                                                         std::move(kwargs->as_object()), options, wait);
        std::cout << id << std::endl;
        if (!wait) co_return;
        auto meta = co_await client.async_wait_result(
            id, std::chrono::milliseconds(static_cast<long long>(timeout * 1000)));
        if (!meta) {
          std::cerr << fmt::format("celeriac call: no result for {} within {}s\n", id, timeout);
          code = exit_timeout;
        } else if (meta->status == "SUCCESS") {
          std::cout << json::dump(meta->result) << std::endl;
        } else {
          std::cerr << fmt::format("celeriac call: task {} {}: {}\n", id, meta->status,
                                   celery::failure_summary(*meta));
          code = exit_task_failed;
        }
      },
      [&](std::exception_ptr e) {
        client.close();
        if (!e) return;
        code = exit_unavailable;
        try {
          std::rethrow_exception(e);
        } catch (const app::unreadable_result& ex) {
          std::cerr << "celeriac call: " << ex.what() << "\n";
          code = exit_unreadable;
        } catch (const std::exception& ex) {
          std::cerr << "celeriac call: " << ex.what() << "\n";
        }
      });
  io.run();
  return code;
}

}  // namespace celeriac::cli
