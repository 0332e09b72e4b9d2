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
#include "util/log.hpp"
#include "worker/child.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "worker/supervisor.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

bool worker_settings::results_on_broker() const {
  return result_backend && result_backend->host == broker.host && result_backend->port == broker.port &&
         result_backend->db == broker.db && result_backend->username == broker.username;
}

}  // namespace celeriac::worker

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

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
    ("acks-early", "acknowledge a message when its task starts (Celery's default, at-most-once) instead of "
                   "after its result is stored (celeriac's default, at-least-once)")
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
  s.acks_early = vm.count("acks-early") > 0;
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

  worker::supervisor_config sc;
  sc.children = s.concurrency;
  sc.node_name = s.node_name;
  return worker::run_supervisor(sc, [&](int index) { return worker::run_child(s, registry, index); });
}

}  // namespace celeriac::cli
