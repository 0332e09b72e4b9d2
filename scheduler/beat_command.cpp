// `celeriac beat`: validates the schedule file, then either prints its
// fire times (--dry-run) or runs the beat loop until SIGTERM/SIGINT.

#include <signal.h>

#include <functional>
#include <iostream>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "http_server/metrics_route.hpp"
#include "http_server/server.hpp"
#include "scheduler/beat_loop.hpp"
#include "scheduler/beat_metrics.hpp"
#include "scheduler/dry_run.hpp"
#include "scheduler/schedule_source.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

// Exit code for a schedule file that does not validate (sysexits' EX_DATAERR).
constexpr int exit_bad_schedule = 65;
// Exit code when the loop dies of a bug rather than a Redis error (which it retries).
constexpr int exit_software = 70;
// Exit code when --metrics-port cannot be listened on (sysexits' EX_UNAVAILABLE).
constexpr int exit_unavailable = 69;

constexpr long min_lease_ms = 300;
constexpr long max_lease_ms = 600'000;

}  // namespace

int beat_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac beat --schedule FILE [options]\n"
      "       celeriac beat --schedule FILE --dry-run [--next N]\n\n"
      "Sends the task messages of a TOML schedule file's entries when their cron or interval\n"
      "ticks fall due: ordinary Celery protocol v2 messages LPUSHed to each entry's queue, as\n"
      "Celery beat sends them, so celeriac and Python Celery workers both run them.\n\n"
      "Run as many instances as you like: one leads (a lease in Redis, key\n"
      "celeriac.beat.NAME:lease), the others stand by and take over within the lease time when\n"
      "it dies, sending every tick that fell due meanwhile. Each tick is claimed and pushed in\n"
      "one atomic step, so it is sent exactly once. The last fired tick of each entry is kept\n"
      "in Redis: a restart neither repeats nor skips ticks; ticks missed while no instance ran\n"
      "follow the entry's `missed` policy (run_once or skip). See docs/scheduler.md.\n\n"
      "Signals: SIGTERM, SIGINT = release the lease and exit 0. SIGHUP = reload the schedule\n"
      "file (it is also reloaded when its modification time changes; a file that no longer\n"
      "parses is logged and the running schedule kept).\n\n"
      "Exit codes: 0 clean shutdown or valid --dry-run; 64 bad usage; 65 schedule file invalid\n"
      "(each problem printed as FILE:LINE: ...).\n\n"
      "Options");
  std::string schedule, broker, name, level, log_format, metrics_bind;
  long metrics_port = 0;
  long lease_ms = 10'000;
  long next = 5;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("schedule,s", po::value(&schedule), "TOML schedule file (required; env CELERIAC_BEAT_SCHEDULE)")
    ("broker,b", po::value(&broker), "broker URL, redis://[[user]:password@]host[:port][/db] "
                                     "(env CELERIAC_BROKER_URL; default redis://127.0.0.1:6379/0)")
    ("dry-run", "validate the file and print each entry's next fire times; touches no Redis")
    ("next", po::value(&next)->default_value(5), "fire times per entry shown by --dry-run (at most 1000)")
    ("lease-ms", po::value(&lease_ms)->default_value(10'000),
        "leader lease time in ms (300-600000): a dead leader is replaced within it; renewed every third of it")
    ("name", po::value(&name)->default_value(std::string(scheduler::default_beat_name)),
        "schedule name: instances with the same name share one lease and one tick record "
        "(Redis keys celeriac.beat.NAME:*)")
    ("loglevel,l", po::value(&level)->default_value("info"), "debug, info, warning, error or critical")
    ("log-format", po::value(&log_format)->default_value("text"),
        "text (Celery's layout) or json (one JSON object per line: time, level, process, pid, message)")
    ("metrics-port", po::value(&metrics_port), "serve Prometheus metrics at http://BIND:PORT/metrics: ticks sent, "
                                               "their lag, leadership; off when not given")
    ("metrics-bind", po::value(&metrics_bind)->default_value("127.0.0.1"),
        "IP address the metrics endpoint listens on (0.0.0.0 for every interface)");
  // clang-format on
  po::variables_map vm;
  if (auto done = parse_options("beat", argc, argv, opts, vm)) return *done;
  auto usage_error = [](const std::string& msg) {
    std::cerr << "celeriac beat: " << msg << "\nTry 'celeriac beat --help'.\n";
    return exit_usage;
  };
  if (schedule.empty()) schedule = env_or("CELERIAC_BEAT_SCHEDULE", "");
  if (schedule.empty()) return usage_error("missing --schedule FILE");
  const bool dry_run = vm.count("dry-run") > 0;
  if (vm.count("next") && !vm["next"].defaulted() && !dry_run) return usage_error("--next goes with --dry-run");
  if (next < 1) return usage_error("--next must be at least 1");
  if (lease_ms < min_lease_ms || lease_ms > max_lease_ms)
    return usage_error(fmt::format("--lease-ms must be between {} and {}", min_lease_ms, max_lease_ms));
  if (auto why = scheduler::beat_name_problem(name)) return usage_error(fmt::format("--name \"{}\" {}", name, *why));
  log::level log_level;
  if (!log::parse_level(level, log_level)) return usage_error(fmt::format("unknown log level '{}'", level));
  log::format format = log::format::text;
  if (!log::parse_format(log_format, format))
    return usage_error(fmt::format("--log-format '{}': give text or json", log_format));
  const bool with_metrics = vm.count("metrics-port") > 0;
  if (with_metrics && (metrics_port < 1 || metrics_port > 65535))
    return usage_error("--metrics-port must be between 1 and 65535");
  if (broker.empty()) broker = env_or("CELERIAC_BROKER_URL", default_broker_url);
  auto broker_cfg = redis::parse_url(broker);
  if (!dry_run && !broker_cfg) return usage_error(fmt::format("bad --broker URL: {}", broker_cfg.error().message()));

  scheduler::schedule_source source(schedule);
  auto entries = source.load();
  if (!entries) {
    std::cerr << entries.error().to_string() << "\n"
              << fmt::format("celeriac beat: {} is not a valid schedule ({}); nothing was started.\n", schedule,
                             entries.error().messages.size() == 1
                                 ? "1 problem"
                                 : fmt::format("{} problems", entries.error().messages.size()));
    return exit_bad_schedule;
  }
  if (dry_run) {
    const auto now = std::chrono::floor<std::chrono::seconds>(util::wall_now());
    for (const auto& line : scheduler::dry_run_report(*entries, now, static_cast<std::size_t>(next)))
      std::cout << line << "\n";
    return 0;
  }

  log::set_level(log_level);
  log::set_format(format);
  scheduler::beat_config cfg;
  cfg.broker = *broker_cfg;
  cfg.broker.client_name = "celeriac-beat";
  cfg.broker.connect_timeout = std::chrono::milliseconds(2'000);
  cfg.name = name;
  cfg.lease = std::chrono::milliseconds(lease_ms);
  cfg.redis_timeout = std::min(std::chrono::milliseconds(2'000), cfg.lease / 2);
  for (const auto& e : *entries)
    for (const auto& w : scheduler::entry_warnings(e)) log::warning("beat: Entry {}: {}", e.name, w);

  boost::asio::io_context io(1);
  // /metrics runs on beat's own thread: a scrape renders a few counters
  // between two steps of the loop, which never blocks on it.
  std::optional<scheduler::beat_metrics> metrics;
  if (with_metrics) {
    metrics.emplace(name);
    cfg.metrics = &*metrics;
  }
  scheduler::beat_loop loop(io.get_executor(), cfg, std::move(source), std::move(*entries));
  std::optional<http_server::server> metrics_server;
  if (with_metrics) {
    try {
      metrics_server.emplace(io.get_executor(), metrics_bind, static_cast<std::uint16_t>(metrics_port),
                             http_server::metrics_handler([&]() -> boost::asio::awaitable<std::string> {
                               co_return metrics->render(loop.is_leader());
                             }));
    } catch (const std::exception& e) {
      std::cerr << "celeriac beat: " << e.what() << "\n";
      return exit_unavailable;
    }
    metrics_server->start();
    log::info("beat: metrics at http://{}:{}/metrics", metrics_bind, metrics_port);
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                             int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      log::info("beat: SIGHUP: reloading {}", schedule);
      loop.reload();
    } else {
      log::info("beat: {}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      loop.stop();
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  int code = 0;
  boost::asio::co_spawn(io, loop.async_run(), [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::critical("beat: stopped by an internal error: {}", ex.what());
      }
      code = exit_software;
    }
    signals.cancel();
    if (metrics_server) metrics_server->stop();
    io.stop();
  });
  io.run();
  return code;
}

}  // namespace celeriac::cli
