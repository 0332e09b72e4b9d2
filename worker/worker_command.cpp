// `celeriac worker`: parses options, registers tasks, and hands over to the
// supervisor, which forks the children.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "app/task_resources.hpp"
#include "pg/conninfo.hpp"
#include "pg/sql_text.hpp"
#include "tasks/task_families.hpp"
#include "tasks/test_tasks.hpp"
#include "util/log.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "worker/metrics_service.hpp"
#include "worker/pool.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

bool worker_settings::results_on_broker() const {
  return result_backend && result_backend->host == broker.host && result_backend->port == broker.port &&
         result_backend->db == broker.db && result_backend->username == broker.username;
}

std::string worker_settings::held_key(long pid) const { return fmt::format("celeriac.held.{}.{}", node_name, pid); }

std::string worker_settings::child_client_name(long pid) const {
  std::string node = node_name;
  // Redis takes only printable ASCII without spaces in a client name.
  for (char& ch : node)
    if (ch < '!' || ch > '~') ch = '_';
  return fmt::format("celeriac-child:{}:{}", node, pid);
}

redis::config worker_settings::child_broker(long pid) const {
  redis::config c = broker;
  c.client_name = child_client_name(pid);
  return c;
}

redis::config worker_settings::for_supervisor(redis::config server) {
  server.resolve_in_place = true;
  return server;
}

}  // namespace celeriac::worker

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

// The metrics port cannot be listened on (sysexits' EX_UNAVAILABLE).
constexpr int exit_unavailable = 69;

std::string local_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// Celery's node name expansion: %h = hostname, %n = its first label.
std::string expand_node_name(std::string name) {
  std::string host = local_hostname();
  std::string shortname = host.substr(0, host.find('.'));
  for (auto [from, to] : {std::pair<std::string, std::string>{"%h", host}, {"%n", shortname}}) {
    for (auto pos = name.find(from); pos != std::string::npos; pos = name.find(from, pos + to.size()))
      name.replace(pos, from.size(), to);
  }
  if (name.find('@') == std::string::npos) name = fmt::format("{}@{}", name, host);
  return name;
}

// "t1,schema.t2" -> {"t1", "schema.t2"}; each part a valid identifier.
bool parse_table_list(const std::string& text, std::vector<std::string>& out, std::string& bad) {
  std::stringstream ss(text);
  for (std::string t; std::getline(ss, t, ',');) {
    t.erase(0, t.find_first_not_of(' '));
    t.erase(t.find_last_not_of(' ') + 1);
    if (t.empty()) continue;
    const auto dot = t.find('.');
    const bool ok = dot == std::string::npos
                        ? pg::valid_identifier(t)
                        : pg::valid_identifier(t.substr(0, dot)) && pg::valid_identifier(t.substr(dot + 1));
    if (!ok) {
      bad = t;
      return false;
    }
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return true;
}

}  // namespace

int worker_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac worker [options]\n\n"
      "Runs a pool of worker child processes that consume Celery task messages from Redis,\n"
      "run the registered tasks and store their results where Celery clients read them.\n\n"
      "Signals: SIGTERM = warm shutdown (finish running tasks, put prefetched ones back);\n"
      "SIGQUIT = cold shutdown (put everything back, exit now); SIGINT = warm, twice = cold.\n\n"
      "Options");
  std::string broker, backend, queues, node, level, database, upload_dir, import_tables;
  int concurrency = 0, prefetch = 4;
  int max_crashes = 3;
  long max_tasks_per_child = 0, max_memory_kib = 0;
  double time_limit = 0, soft_time_limit = 0, eta_horizon = 30;
  long hand_back_after = 10;
  long autoscale_keepalive = 30;
  long revoked_expires = 3 * 3600;
  long metrics_port = 0;
  std::string metrics_bind = "127.0.0.1", log_format = "text";
  std::string autoscale;
  std::vector<std::string> rate_limits;
  long visibility = 3600, expires = 86400;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("broker,b", po::value(&broker), "broker URL, redis://[[user]:password@]host[:port][/db] "
                                     "(env CELERIAC_BROKER_URL; default redis://127.0.0.1:6379/0)")
    ("result-backend", po::value(&backend), "result backend URL, or 'none' to store no results "
                                            "(env CELERIAC_RESULT_BACKEND; default: the broker URL)")
    ("queues,Q", po::value(&queues)->default_value("celery"), "comma-separated queues to consume, served round-robin")
    ("concurrency,c", po::value(&concurrency), "number of worker child processes (default: number of CPUs)")
    ("prefetch-multiplier", po::value(&prefetch)->default_value(4),
        "messages each child holds at most, running one included (Celery's worker_prefetch_multiplier)")
    ("visibility-timeout", po::value(&visibility)->default_value(3600),
        "seconds after which a message held by a dead worker is restored to its queue")
    ("result-expires", po::value(&expires)->default_value(86400), "seconds results are kept; 0 = forever")
    ("hostname,n", po::value(&node)->default_value("celeriac@%h"), "node name; %h = host name, %n = short host name")
    ("loglevel,l", po::value(&level)->default_value("info"), "debug, info, warning, error or critical")
    ("log-format", po::value(&log_format)->default_value("text"),
        "text (Celery's layout) or json (one JSON object per line: time, level, process, pid, task_name, task_id, "
        "message)")
    ("metrics-port", po::value(&metrics_port), "serve Prometheus metrics at http://BIND:PORT/metrics (node-wide, "
                                               "from the first child); off when not given")
    ("metrics-bind", po::value(&metrics_bind)->default_value("127.0.0.1"),
        "IP address the metrics endpoint listens on (0.0.0.0 for every interface)")
    ("acks-early", "acknowledge a message when its task starts (Celery's default, at-most-once) instead of "
                   "after its result is stored (celeriac's default, at-least-once)")
    ("no-requeue-on-crash", "when a child dies, fail the task it was running with WorkerLostError instead of "
                            "redelivering it")
    ("max-crashes", po::value(&max_crashes)->default_value(3),
        "dead-letter (reason worker_lost) a message that was running when a child died this many times")
    ("max-tasks-per-child", po::value(&max_tasks_per_child)->default_value(0),
        "replace a child after it ran this many tasks (0: never)")
    ("max-memory-per-child", po::value(&max_memory_kib)->default_value(0),
        "replace a child whose resident memory exceeds this many KiB, checked between tasks (0: never)")
    ("autoscale", po::value(&autoscale), "MAX,MIN: grow the pool up to MAX children with the backlog, shrink to "
                                         "MIN when idle (overrides -c)")
    ("autoscale-keepalive", po::value(&autoscale_keepalive)->default_value(30),
        "seconds the backlog must stay below the pool's size before autoscale shrinks it")
    ("time-limit", po::value(&time_limit), "hard time limit in seconds: the child is killed and the task fails "
                                           "with TimeLimitExceeded")
    ("soft-time-limit", po::value(&soft_time_limit), "soft time limit in seconds: should_stop() turns true and a "
                                                     "task that goes on fails with SoftTimeLimitExceeded")
    ("rate-limit", po::value(&rate_limits)->composing(), "NAME=RATE, e.g. tasks.add=10/m (repeatable): at most "
                                                         "RATE runs of task NAME across every worker on this Redis")
    ("revoked-expires", po::value(&revoked_expires)->default_value(3 * 3600),
        "seconds a revoked task id is remembered in Redis")
    ("eta-horizon", po::value(&eta_horizon)->default_value(30),
        "seconds: a message due later than this waits in Redis (celeriac.delayed.<queue>), not in memory")
    ("hand-back-after", po::value(&hand_back_after)->default_value(10),
        "ms: once a task has run this long, its child hands its unstarted messages back to the queue for idle "
        "children (fair dispatch); 0 = never")
    ("events,E", "send task events (task-received, -started, -succeeded, -failed, ...) for `celery events`, "
                 "Flower and other monitors; worker-online/heartbeat/offline are sent without it")
    ("without-heartbeat", "send no worker-online, worker-heartbeat or worker-offline events")
    ("enable-test-tasks", "register celeriac.crash (kills its own child) for tests of crash handling")
    ("database", po::value(&database), "PostgreSQL URL: every task's state and progress go to celeriac_jobs "
                                       "(env CELERIAC_DATABASE_URL)")
    ("upload-dir", po::value(&upload_dir), "folder celeriac.csv_import may read uploads from; paths outside it, "
                                           "via '..' or symlinks, are refused (env CELERIAC_UPLOAD_DIR)")
    ("import-tables", po::value(&import_tables), "comma-separated tables (name or schema.name) a csv_import job may "
                                                 "load with an explicit column spec; named profiles need no entry "
                                                 "(env CELERIAC_IMPORT_TABLES)");
  // clang-format on
  po::options_description family_opts("Job family options");
  tasks::family_options families;
  tasks::add_family_options(family_opts, families);
  opts.add(family_opts);
  po::variables_map vm;
  if (auto done = parse_options("worker", argc, argv, opts, vm)) return *done;

  worker::worker_settings s;
  auto usage_error = [](const std::string& msg) {
    std::cerr << "celeriac worker: " << msg << "\n";
    return exit_usage;
  };
  if (broker.empty()) broker = env_or("CELERIAC_BROKER_URL", default_broker_url);
  auto broker_cfg = redis::parse_url(broker);
  if (!broker_cfg) return usage_error(fmt::format("bad --broker URL: {}", broker_cfg.error().message()));
  s.broker = *broker_cfg;
  if (backend.empty()) backend = env_or("CELERIAC_RESULT_BACKEND", broker);
  if (backend != "none") {
    auto backend_cfg = redis::parse_url(backend);
    if (!backend_cfg) return usage_error(fmt::format("bad --result-backend URL: {}", backend_cfg.error().message()));
    s.result_backend = *backend_cfg;
  }
  std::stringstream qs(queues);
  for (std::string q; std::getline(qs, q, ',');) {
    if (q.empty()) continue;
    std::string why;
    auto name = broker::queue_name::make(q, &why);
    if (!name) return usage_error(fmt::format("bad queue name '{}': {}", q, why));
    if (std::find(s.queues.begin(), s.queues.end(), *name) == s.queues.end()) s.queues.push_back(*name);
  }
  if (s.queues.empty()) return usage_error("-Q needs at least one queue");
  s.concurrency = concurrency > 0 ? concurrency : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (concurrency < 0 || concurrency > 1024) return usage_error("-c must be between 1 and 1024");
  if (prefetch < 1) return usage_error("--prefetch-multiplier must be at least 1");
  s.prefetch_multiplier = prefetch;
  if (visibility < 1) return usage_error("--visibility-timeout must be at least 1 second");
  s.visibility_timeout = std::chrono::seconds(visibility);
  if (expires < 0) return usage_error("--result-expires cannot be negative");
  s.result_expires = std::chrono::seconds(expires);
  s.node_name = expand_node_name(node);
  if (!log::parse_level(level, s.log_level)) return usage_error(fmt::format("unknown log level '{}'", level));
  log::format format = log::format::text;
  if (!log::parse_format(log_format, format))
    return usage_error(fmt::format("--log-format '{}': give text or json", log_format));
  log::set_format(format);
  if (vm.count("metrics-port")) {
    if (metrics_port < 1 || metrics_port > 65535) return usage_error("--metrics-port must be between 1 and 65535");
    s.metrics_port = static_cast<std::uint16_t>(metrics_port);
  }
  s.metrics_bind = metrics_bind;
  if (auto problem = worker::metrics_port_problem(s)) {
    std::cerr << "celeriac worker: " << *problem << "\n";
    return exit_unavailable;
  }
  s.acks_early = vm.count("acks-early") > 0;
  s.requeue_on_crash = vm.count("no-requeue-on-crash") == 0;
  if (max_crashes < 1) return usage_error("--max-crashes must be at least 1");
  s.max_crashes = max_crashes;
  if (max_tasks_per_child < 0) return usage_error("--max-tasks-per-child cannot be negative");
  s.max_tasks_per_child = max_tasks_per_child;
  if (max_memory_kib < 0) return usage_error("--max-memory-per-child cannot be negative");
  s.max_memory_per_child_kib = max_memory_kib;
  if (!autoscale.empty()) {
    int mx = 0, mn = 0;
    char comma = 0, extra = 0;
    std::istringstream as(autoscale);
    if (!(as >> mx) || !(as >> comma) || comma != ',' || !(as >> mn) || (as >> extra) || mx < 1 || mn < 0 ||
        mn > mx || mx > 1024)
      return usage_error(fmt::format("--autoscale '{}': give MAX,MIN with 1 <= MAX <= 1024 and 0 <= MIN <= MAX",
                                     autoscale));
    s.autoscale_max = mx;
    s.autoscale_min = mn;
  }
  if (vm.count("time-limit")) {
    if (!(time_limit > 0)) return usage_error("--time-limit must be a positive number of seconds");
    s.time_limit = time_limit;
  }
  if (vm.count("soft-time-limit")) {
    if (!(soft_time_limit > 0)) return usage_error("--soft-time-limit must be a positive number of seconds");
    s.soft_time_limit = soft_time_limit;
  }
  for (const auto& r : rate_limits) {
    auto eq = r.find('=');
    if (eq == std::string::npos || eq == 0)
      return usage_error(fmt::format("--rate-limit '{}': give NAME=RATE, e.g. tasks.add=10/m", r));
    s.rate_limits.emplace_back(r.substr(0, eq), r.substr(eq + 1));
  }
  if (revoked_expires < 1) return usage_error("--revoked-expires must be at least 1 second");
  s.revoked_expires = std::chrono::seconds(revoked_expires);
  if (!(eta_horizon >= 0)) return usage_error("--eta-horizon cannot be negative");
  s.eta_horizon = std::chrono::milliseconds(static_cast<long>(eta_horizon * 1000));
  s.enable_test_tasks = vm.count("enable-test-tasks") > 0;
  s.task_events = vm.count("events") > 0;
  s.worker_events = vm.count("without-heartbeat") == 0;
  if (autoscale_keepalive < 0) return usage_error("--autoscale-keepalive cannot be negative");
  s.autoscale_keepalive = std::chrono::seconds(autoscale_keepalive);
  if (hand_back_after < 0) return usage_error("--hand-back-after cannot be negative");
  s.hand_back_after = std::chrono::milliseconds(hand_back_after);
  if (database.empty()) database = env_or("CELERIAC_DATABASE_URL", "");
  if (!database.empty()) s.database_url = database;
  log::set_level(s.log_level);

  // What tasks may use, inherited by the children across fork.
  app::task_resources resources;
  resources.database_url = s.database_url;
  resources.redis_url = broker;
  if (upload_dir.empty()) upload_dir = env_or("CELERIAC_UPLOAD_DIR", "");
  if (!upload_dir.empty()) {
    std::error_code ec;
    auto dir = std::filesystem::canonical(upload_dir, ec);
    if (ec || !std::filesystem::is_directory(dir, ec))
      return usage_error(fmt::format("--upload-dir {} is not a folder: {}", upload_dir,
                                     ec ? ec.message() : "not a directory"));
    resources.upload_dir = dir.string();
  }
  if (import_tables.empty()) import_tables = env_or("CELERIAC_IMPORT_TABLES", "");
  std::string bad_table;
  if (!parse_table_list(import_tables, resources.import_tables, bad_table))
    return usage_error(fmt::format("--import-tables: '{}' is not a table name (name or schema.name, ASCII letters, "
                                   "digits and '_')",
                                   bad_table));
  app::set_process_task_resources(resources);

  app::task_registry registry;
  try {
    tasks::register_all_tasks(registry, families);
    if (s.enable_test_tasks) tasks::register_test_tasks(registry);
  } catch (const std::invalid_argument& e) {
    return usage_error(e.what());
  }

  std::string queue_list;
  for (const auto& q : s.queues) queue_list += (queue_list.empty() ? "" : ",") + q.str();
  log::info("celeriac worker {} starting: broker {}, results {}, queues {}, {} children, prefetch {}, "
            "visibility timeout {}s, {}",
            s.node_name, redis::to_string(s.broker), s.result_backend ? redis::to_string(*s.result_backend) : "off",
            queue_list, s.concurrency, s.prefetch_multiplier, s.visibility_timeout.count(),
            s.acks_early ? "acks early (at-most-once)" : "acks late (at-least-once)");
  log::info("registered tasks: {}", fmt::join(registry.names(), ", "));
  log::info("LLM providers, in order: {}", tasks::describe_llm_providers());
  if (s.database_url)
    log::info("job states and progress go to PostgreSQL {}", pg::redact_conninfo(*s.database_url));
  if (!resources.upload_dir.empty())
    log::info("uploads are read from {}{}", resources.upload_dir,
              resources.import_tables.empty() ? std::string()
                                              : fmt::format("; import tables: {}", fmt::join(resources.import_tables, ", ")));

  return worker::run_pool(s, registry);
}

}  // namespace celeriac::cli
