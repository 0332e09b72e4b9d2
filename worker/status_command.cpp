// `celeriac status TASK_ID [--watch]`: a job's state and progress from
// celeriac_jobs. With --watch, a live progress bar (rate and ETA) until the
// job ends: it LISTENs on celeriac_jobs and re-reads the row when the job
// store announces a write, and polls as well, so a lost notification or a
// LISTEN connection that broke only slows it down.

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <pqxx/connection>
#include <pqxx/except>

#include "pg/conninfo.hpp"
#include "pg/job_query.hpp"
#include "pg/listen.hpp"
#include "cli/cli_support.hpp"
#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "worker/job_display.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

namespace {

using steady = std::chrono::steady_clock;

// Exit codes besides 0 (found; with --watch: ended in SUCCESS) and usage.
constexpr int exit_failed = 1;        // FAILURE or REVOKED, or an error reading the job
constexpr int exit_timeout = 2;       // --watch --timeout passed first
constexpr int exit_not_found = 3;     // no worker has recorded the job (without --watch)
constexpr int exit_unavailable = 69;  // PostgreSQL unreachable (without --watch)

int exit_code_for(pg::job_state s) {
  return s == pg::job_state::failure || s == pg::job_state::revoked ? exit_failed : 0;
}

std::string final_summary(const pg::job_row& job) {
  std::string text(pg::to_string(job.state));
  if (job.started_at && job.finished_at)
    text += " after " +
            worker::format_duration(std::chrono::duration<double>(*job.finished_at - *job.started_at).count());
  if (job.attempts > 1) text += fmt::format(" (attempt {})", job.attempts);
  if (job.state == pg::job_state::success && job.result) text += ": " + *job.result;
  if (job.error) text += ": " + *job.error;
  if (job.message && job.state == pg::job_state::revoked) text += ": " + *job.message;
  return text;
}

// The live line: redrawn in place on a terminal, else one line per change
// at most once a second.
class live_line {
public:
  live_line() : tty_(::isatty(STDOUT_FILENO) == 1) {}

  void show(const std::string& line, bool force = false) {
    const auto now = steady::now();
    if (line == last_ && !force) return;
    if (tty_) {
      std::cout << "\r" << line << "\033[K" << std::flush;
      open_ = true;
    } else if (force || now - printed_at_ >= std::chrono::seconds(1)) {
      std::cout << line << "\n" << std::flush;
      printed_at_ = now;
    } else {
      return;  // shown at the next change a second later
    }
    last_ = line;
  }

  // Ends the redrawn line so that what follows starts on its own.
  void close() {
    if (open_) std::cout << "\n" << std::flush;
    open_ = false;
  }

private:
  bool tty_;
  bool open_ = false;
  std::string last_;
  steady::time_point printed_at_{};
};

int show_once(const std::string& conninfo, const std::string& redacted, const std::string& task_id) {
  try {
    pqxx::connection c{conninfo};
    auto job = pg::get_job(c, task_id);
    if (!job) {
      std::cerr << fmt::format("celeriac status: no job {} recorded in {} (not received by a worker run with "
                               "--database yet, or an unknown id)\n",
                               task_id, redacted);
      return exit_not_found;
    }
    std::cout << worker::describe_job(*job);
    return exit_code_for(job->state);
  } catch (const pqxx::broken_connection& e) {
    std::cerr << fmt::format("celeriac status: cannot reach PostgreSQL at {}: {}", redacted, e.what());
    return exit_unavailable;
  } catch (const pqxx::undefined_table&) {
    std::cerr << fmt::format("celeriac status: {} has no celeriac_jobs table; run `celeriac migrate`\n", redacted);
    return exit_failed;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("celeriac status: {} ({})\n", e.what(), redacted);
    return exit_failed;
  }
}

int watch(const std::string& conninfo, const std::string& redacted, const std::string& task_id,
          std::chrono::milliseconds poll, std::optional<steady::time_point> deadline) {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<pg::listener> listener;
  worker::rate_meter meter;
  live_line out;
  bool said_waiting = false;
  bool said_down = false;
  for (;;) {
    // (Re)connect what is missing; PostgreSQL may be restarting.
    try {
      if (!conn) conn = std::make_unique<pqxx::connection>(conninfo);
      if (!listener) listener = std::make_unique<pg::listener>(conninfo);
    } catch (const pqxx::broken_connection& e) {
      if (!said_down) {
        out.close();
        std::cerr << fmt::format("celeriac status: PostgreSQL at {} is unavailable ({}); retrying\n", redacted,
                                 e.what());
        said_down = true;
      }
    }
    std::optional<pg::job_row> job;
    if (conn) {
      try {
        job = pg::get_job(*conn, task_id);
        said_down = false;
      } catch (const pqxx::broken_connection&) {
        conn.reset();
        listener.reset();
      } catch (const pqxx::undefined_table&) {
        out.close();
        std::cerr << fmt::format("celeriac status: {} has no celeriac_jobs table; run `celeriac migrate`\n", redacted);
        return exit_failed;
      }
    }
    if (job) {
      if (job->progress_done) meter.add(job->updated_at, *job->progress_done, worker::meta_rows_loaded(*job));
      if (pg::is_final(job->state)) {
        if (job->progress_done) out.show(worker::progress_line(*job, meter), true);
        out.close();
        std::cout << final_summary(*job) << "\n";
        return exit_code_for(job->state);
      }
      out.show(worker::progress_line(*job, meter));
    } else if (conn && !said_waiting) {
      std::cerr << fmt::format("celeriac status: waiting for a worker to record job {}\n", task_id);
      said_waiting = true;
    }
    if (deadline && steady::now() >= *deadline) {
      out.close();
      std::cerr << fmt::format("celeriac status: job {} has not finished within --timeout\n", task_id);
      return exit_timeout;
    }
    // Until a write to this job is announced, or the poll interval passes.
    auto until = steady::now() + poll;
    if (deadline) until = std::min(until, *deadline);
    if (!listener) {
      std::this_thread::sleep_for(until - steady::now());
      continue;
    }
    try {
      bool ours = false;
      while (!ours && steady::now() < until) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
        for (const pg::notification& n : listener->wait(std::max(left, std::chrono::milliseconds(1))))
          for (const pg::job_notification& row : pg::parse_job_notifications(n.payload))
            ours = ours || row.task_id == task_id;
      }
    } catch (const pqxx::broken_connection&) {
      listener.reset();
    }
  }
}

}  // namespace

int status_command(int argc, char** argv) {
  po::options_description opts(
      "Usage: celeriac status TASK_ID [options]\n\n"
      "Shows a job's state and progress as recorded in PostgreSQL by workers run with --database.\n"
      "Exit codes: 0 found (with --watch: ended in SUCCESS), 1 FAILURE or REVOKED, 2 --timeout\n"
      "passed, 3 no such job (without --watch), 69 PostgreSQL unreachable.\n\n"
      "Options");
  std::string task_id, database;
  double timeout = 0, interval = 1;
  // clang-format off
  opts.add_options()
    ("help,h", "show this help")
    ("task-id", po::value(&task_id), "the job's task id (positional)")
    ("watch,w", "follow the job with a live progress bar until it ends (waits for it to appear)")
    ("timeout", po::value(&timeout)->default_value(0), "with --watch: give up after this many seconds; 0 = never")
    ("interval", po::value(&interval)->default_value(1), "with --watch: seconds between reads when no "
                                                         "notification arrives")
    ("database", po::value(&database), "PostgreSQL URL (env CELERIAC_DATABASE_URL)");
  // clang-format on
  po::positional_options_description pos;
  pos.add("task-id", 1);
  po::variables_map vm;
  if (auto done = parse_options("status", argc, argv, opts, vm, &pos)) return *done;
  if (task_id.empty()) {
    std::cerr << "celeriac status: which job? give its TASK_ID\n";
    return exit_usage;
  }
  if (!resolve_database_url("status", database)) return exit_usage;
  if (!(timeout >= 0) || !(interval >= 0.05) || interval > 3600) {
    std::cerr << "celeriac status: --timeout must be >= 0 and --interval between 0.05 and 3600 seconds\n";
    return exit_usage;
  }
  const std::string conninfo = pg::with_default_param(
      pg::with_default_param(database, "connect_timeout", "5"), "application_name", "celeriac-status");
  const std::string redacted = pg::redact_conninfo(database);
  if (!vm.count("watch")) return show_once(conninfo, redacted, task_id);
  std::optional<steady::time_point> deadline;
  if (timeout > 0)
    deadline = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(timeout));
  return watch(conninfo, redacted, task_id,
               std::chrono::milliseconds(static_cast<std::int64_t>(interval * 1000)), deadline);
}

}  // namespace celeriac::cli
