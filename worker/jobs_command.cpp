// `celeriac jobs`: recent jobs from celeriac_jobs, newest first, as a table.

#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <pqxx/connection>
#include <pqxx/except>

#include "pg/conninfo.hpp"
#include "pg/job_query.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "worker/job_display.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

constexpr int exit_failed = 1;
constexpr int exit_unavailable = 69;
constexpr long max_limit = 100'000;

}  // namespace

int jobs_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac jobs [options]\n\n"
      "Lists jobs recorded in PostgreSQL by workers run with --database, newest first.\n\n"
      "Options");
  std::string database, state_text;
  long limit = 50;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("state", po::value(&state_text), "only jobs in this state: RECEIVED, STARTED, PROGRESS, RETRY, SUCCESS, "
                                      "FAILURE or REVOKED")
    ("limit", po::value(&limit)->default_value(50), "most jobs listed")
    ("database", po::value(&database), "PostgreSQL URL (env CELERIAC_DATABASE_URL)");
  // clang-format on
  po::variables_map vm;
  if (auto done = parse_options("jobs", argc, argv, opts, vm)) return *done;
  if (!resolve_database_url("jobs", database)) return exit_usage;
  pg::job_filter filter;
  if (!state_text.empty()) {
    std::string upper = state_text;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    filter.state = pg::parse_job_state(upper);
    if (!filter.state) {
      std::cerr << fmt::format("celeriac jobs: unknown state '{}'; use RECEIVED, STARTED, PROGRESS, RETRY, SUCCESS, "
                               "FAILURE or REVOKED\n",
                               state_text);
      return exit_usage;
    }
  }
  if (limit < 1 || limit > max_limit) {
    std::cerr << fmt::format("celeriac jobs: --limit must be between 1 and {}\n", max_limit);
    return exit_usage;
  }
  filter.limit = static_cast<std::size_t>(limit);
  const std::string redacted = pg::redact_conninfo(database);
  try {
    pqxx::connection c{pg::with_default_param(pg::with_default_param(database, "connect_timeout", "10"),
                                              "application_name", "celeriac-cli")};
    const auto jobs = pg::list_jobs(c, filter);
    if (jobs.empty()) {
      std::cout << (filter.state ? fmt::format("no {} jobs\n", pg::to_string(*filter.state)) : "no jobs\n");
      return 0;
    }
    std::cout << worker::jobs_table(jobs, util::wall_now());
    return 0;
  } catch (const pqxx::broken_connection& e) {
    std::cerr << fmt::format("celeriac jobs: cannot reach PostgreSQL at {}: {}", redacted, e.what());
    return exit_unavailable;
  } catch (const pqxx::undefined_table&) {
    std::cerr << fmt::format("celeriac jobs: {} has no celeriac_jobs table; run `celeriac migrate --database URL`\n",
                             redacted);
    return exit_failed;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("celeriac jobs: {} ({})\n", e.what(), redacted);
    return exit_failed;
  }
}

}  // namespace celeriac::cli
