// Parallel CSV imports (request.parallel > 1) against a real PostgreSQL:
// 1, 2 and 4 parts give the same table and the same error rows; a part
// failing mid-chunk or after a commit, a part's connection killed, two
// deliveries at once (also one as one part and one in parts), a one-part
// job resumed with parallel set, fewer records than parts, max_errors
// across parts, a revoke through the task; progress is the sum of the parts.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <tuple>

#include "app/task_context.hpp"
#include "app/task_error.hpp"
#include "app/task_registry.hpp"
#include "app/task_resources.hpp"
#include "import_test_util.hpp"
#include "tasks/csv_import/csv_import_task.hpp"

using namespace celeriac;
using test::count;
using test::sql;

namespace {

struct simulated_crash {};

using error_row = std::tuple<std::int64_t, std::string, std::string, std::string>;

// Every error row of the job: line, column, reason, raw record (hex).
std::vector<error_row> all_errors(const std::string& url, const std::string& task_id) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  std::vector<error_row> out;
  for (const auto& r : tx.exec_params(
           "SELECT line_number, coalesce(column_name, ''), reason, encode(raw_record, 'hex') FROM "
           "celeriac_import_errors WHERE task_id = $1 ORDER BY line_number, id",
           task_id))
    out.emplace_back(r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>());
  return out;
}

// The table's rows as text, in a fixed order.
std::vector<std::string> table_rows(const std::string& url) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  std::vector<std::string> out;
  for (const auto& r : tx.exec("SELECT concat_ws('|', merchant_name, category, ticker, confidence, user_id, "
                               "created_at) FROM llm_mappings ORDER BY user_id, merchant_name"))
    out.push_back(r[0].as<std::string>());
  return out;
}

// The job row's sums agree with the table, the error rows and its parts.
void check_sums(const std::string& url, const std::string& task_id) {
  const std::string q = "'" + task_id + "'";
  const auto done = count(url, "SELECT rows_done FROM celeriac_import_checkpoints WHERE task_id = " + q);
  CHECK(done == count(url, "SELECT count(*) FROM llm_mappings"));
  CHECK(count(url, "SELECT rows_rejected FROM celeriac_import_checkpoints WHERE task_id = " + q) ==
        count(url, "SELECT count(*) FROM celeriac_import_errors WHERE task_id = " + q));
  if (count(url, "SELECT count(*) FROM celeriac_import_parts WHERE task_id = " + q) > 0) {
    CHECK(done == count(url, "SELECT sum(rows_done) FROM celeriac_import_parts WHERE task_id = " + q));
    CHECK(count(url, "SELECT sum(rows_rejected) FROM celeriac_import_parts WHERE task_id = " + q) ==
          count(url, "SELECT rows_rejected FROM celeriac_import_checkpoints WHERE task_id = " + q));
  }
}

// Every good row once, every bad record once at its line.
void check_exact(const std::string& url, const std::string& task_id, const test::generated_file& f) {
  std::string why;
  CHECK_MESSAGE(test::holds_exactly(url, f, why), why);
  const auto errors = all_errors(url, task_id);
  REQUIRE(errors.size() == f.errors.size());
  for (std::size_t i = 0; i < errors.size(); ++i) {
    INFO("expected ", f.errors[i].kind, " at line ", f.errors[i].line);
    CHECK(static_cast<std::uint64_t>(std::get<0>(errors[i])) == f.errors[i].line);
    CHECK(std::get<1>(errors[i]) == f.errors[i].column);
  }
  check_sums(url, task_id);
}

void forbid_names(const std::string& url) {
  sql(url, "ALTER TABLE llm_mappings ADD CONSTRAINT no_forbidden CHECK (merchant_name NOT LIKE 'FORBIDDEN%')");
}

tasks::importer_config parallel_config(const std::string& task_id, const std::string& url, const test::upload_dir& dir,
                                       const std::string& file, std::size_t parts, std::size_t chunk_rows = 1000) {
  auto cfg = test::llm_config(task_id, url, dir, file, chunk_rows, 100'000);
  cfg.request.parallel = parts;
  return cfg;
}

}  // namespace

TEST_SUITE("integration") {

TEST_CASE("parallel 1, 2 and 4 load the same rows and record the same errors, at the file's line numbers") {
  auto& server = test::shared_pg_server();
  test::upload_dir dir;
  const auto f = test::generate({.records = 40'000, .bad_every = 53, .unterminated_at_end = true});
  dir.write("same.csv", f.content);
  std::vector<std::string> reference_rows;
  std::vector<error_row> reference_errors;
  for (std::size_t parts : {1, 2, 4}) {
    CAPTURE(parts);
    const std::string url = test::migrated_database(server, "csv_par_same");
    forbid_names(url);
    auto cfg = parallel_config("same-1", url, dir, "same.csv", parts);
    std::mutex m;
    std::vector<tasks::import_progress> progress;
    cfg.on_progress = [&](const tasks::import_progress& p) {
      std::lock_guard lock(m);
      progress.push_back(p);
    };
    const auto s = tasks::run_csv_import(cfg);
    CHECK(s.parts == parts);
    CHECK(s.rows_loaded == f.good_rows);
    CHECK(s.rows_rejected == f.errors.size());
    CHECK_FALSE(s.resumed);
    CHECK(s.chunks >= 40);
    check_exact(url, "same-1", f);
    CHECK(count(url, "SELECT count(*) FROM celeriac_import_parts") == (parts > 1 ? std::int64_t(parts) : 0));
    CHECK(count(url, "SELECT count(*) FROM celeriac_import_parts WHERE byte_offset <> end_offset") == 0);

    // Progress is the sum of the parts: forward only, ending at the file's
    // size and the job's totals, one report per part's read and commit.
    REQUIRE(progress.size() >= s.chunks + parts);
    for (std::size_t i = 1; i < progress.size(); ++i) {
      CHECK(progress[i].bytes_done >= progress[i - 1].bytes_done);
      CHECK(progress[i].rows_loaded + progress[i].rows_rejected >=
            progress[i - 1].rows_loaded + progress[i - 1].rows_rejected);
    }
    CHECK(progress.back().bytes_done == f.content.size());
    CHECK(progress.back().bytes_total == f.content.size());
    CHECK(progress.back().rows_loaded == f.good_rows);
    CHECK(progress.back().rows_rejected == f.errors.size());

    const auto rows = table_rows(url);
    const auto errors = all_errors(url, "same-1");
    if (parts == 1) {
      reference_rows = rows;
      reference_errors = errors;
    } else {
      CHECK(rows == reference_rows);
      REQUIRE(errors.size() == reference_errors.size());
      for (std::size_t i = 0; i < errors.size(); ++i) {
        INFO("one part: ", std::get<0>(reference_errors[i]), " ", std::get<2>(reference_errors[i]), "; ", parts,
             " parts: ", std::get<0>(errors[i]), " ", std::get<2>(errors[i]));
        REQUIRE(errors[i] == reference_errors[i]);
      }
    }

    // A finished job sent again loads nothing and reports the same.
    const auto again = tasks::run_csv_import(cfg);
    CHECK(again.rows_loaded == f.good_rows);
    CHECK(again.rows_rejected == f.errors.size());
    CHECK(again.chunks == 0);
    CHECK(again.parts == parts);
    check_exact(url, "same-1", f);
  }
}

TEST_CASE("a part that dies mid-chunk, or after a commit: the same id resumes every part, every row once") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_par_crash");
  forbid_names(url);
  test::upload_dir dir;
  const auto f = test::generate({.records = 30'000, .bad_every = 41});
  dir.write("c.csv", f.content);
  auto cfg = parallel_config("crash-1", url, dir, "c.csv", 3, 700);

  // Part 2 of 3 throws inside its 4th chunk's transaction, before COMMIT:
  // that chunk is rolled back, the others stop at their next boundary.
  std::atomic<int> part1_chunks{0};
  cfg.before_commit = [&](std::size_t part) {
    if (part == 1 && ++part1_chunks == 4) throw simulated_crash{};
  };
  CHECK_THROWS_AS(tasks::run_csv_import(cfg), simulated_crash);
  const auto after_first = count(url, "SELECT count(*) FROM llm_mappings");
  CHECK(after_first > 0);
  CHECK(after_first < static_cast<std::int64_t>(f.good_rows));
  check_sums(url, "crash-1");
  CHECK(count(url, "SELECT byte_offset - start_offset FROM celeriac_import_parts WHERE task_id = 'crash-1' AND "
                   "part = 1") > 0);

  // Part 3 throws right after its 2nd commit of the next delivery.
  cfg.before_commit = nullptr;
  cfg.after_part_commit = [](std::size_t part, std::uint64_t chunks) {
    if (part == 2 && chunks == 2) throw simulated_crash{};
  };
  CHECK_THROWS_AS(tasks::run_csv_import(cfg), simulated_crash);
  const auto after_second = count(url, "SELECT count(*) FROM llm_mappings");
  CHECK(after_second > after_first);
  check_sums(url, "crash-1");

  cfg.after_part_commit = nullptr;
  const auto s = tasks::run_csv_import(cfg);
  CHECK(s.resumed);
  CHECK(s.parts == 3);
  CHECK(s.rows_loaded == f.good_rows);
  CHECK(s.rows_loaded_now == f.good_rows - static_cast<std::uint64_t>(after_second));
  CHECK(s.rows_rejected == f.errors.size());
  check_exact(url, "crash-1", f);
}

TEST_CASE("a part's connection killed mid-chunk: that part reconnects and resumes") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_par_kill");
  test::upload_dir dir;
  const auto f = test::generate({.records = 20'000, .bad_every = 97, .forbidden = false});
  dir.write("k.csv", f.content);
  auto cfg = parallel_config("kill-1", url, dir, "k.csv", 2, 500);
  std::atomic<int> kills{0};
  std::atomic<int> part0_chunks{0};
  cfg.before_commit = [&](std::size_t part) {
    // Part 1 of 2, between its chunk's last statement and its COMMIT,
    // kills the backends idle in a transaction: its own among them.
    if (part != 0 || ++part0_chunks % 7 != 3) return;
    pqxx::connection c{url};
    pqxx::nontransaction tx{c};
    kills += static_cast<int>(tx.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name "
                                      "= 'celeriac-csv-import' AND datname = current_database() AND state = 'idle in "
                                      "transaction'")
                                  .size());
  };
  const auto s = tasks::run_csv_import(cfg);
  CHECK(kills >= 2);
  CHECK(s.reconnects >= 2);
  CHECK(s.rows_loaded == f.good_rows);
  CHECK(s.rows_rejected == f.errors.size());
  check_exact(url, "kill-1", f);
}

TEST_CASE("two deliveries in parts at once never both load a chunk of a part") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_par_twice");
  forbid_names(url);
  test::upload_dir dir;
  const auto f = test::generate({.records = 24'000, .bad_every = 89});
  dir.write("t.csv", f.content);
  auto cfg = parallel_config("twice-1", url, dir, "t.csv", 3, 500);
  tasks::import_summary a, b;
  std::thread other([&] { b = tasks::run_csv_import(cfg); });
  a = tasks::run_csv_import(cfg);
  other.join();
  CHECK(a.rows_loaded == f.good_rows);
  CHECK(b.rows_loaded == f.good_rows);
  CHECK(a.rows_rejected == f.errors.size());
  CHECK(b.rows_rejected == f.errors.size());
  CHECK(a.parts == 3);
  CHECK(b.parts == 3);
  CHECK(a.chunks + b.chunks >= 48);  // 24,000 records in chunks of 500, in 3 parts
  CHECK(a.chunks + b.chunks <= 51);
  check_exact(url, "twice-1", f);
  MESSAGE("chunks: ", a.chunks, " + ", b.chunks, "; lost races: ", a.lost_races, " + ", b.lost_races);
}

TEST_CASE("one delivery as one part and one in parts at once: the job loads one way only") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_par_mixed");
  test::upload_dir dir;
  const auto f = test::generate({.records = 20'000, .bad_every = 61, .forbidden = false});
  dir.write("m.csv", f.content);

  // The one-part delivery reads the job (not cut), then waits until the
  // other has cut it before its first chunk: that chunk must find the cut
  // and switch to the parts.
  auto one = parallel_config("mixed-1", url, dir, "m.csv", 1, 500);
  bool waited = false;
  one.on_progress = [&](const tasks::import_progress&) {
    if (waited) return;
    waited = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (count(url, "SELECT coalesce(part_count, 0) FROM celeriac_import_checkpoints WHERE task_id = 'mixed-1'") ==
               0 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  auto parts = parallel_config("mixed-1", url, dir, "m.csv", 4, 500);
  tasks::import_summary a, b;
  std::thread first([&] { a = tasks::run_csv_import(one); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  b = tasks::run_csv_import(parts);
  first.join();
  CHECK(waited);
  CHECK(a.parts == 4);
  CHECK(b.parts == 4);
  CHECK(a.rows_loaded == f.good_rows);
  CHECK(b.rows_loaded == f.good_rows);
  check_exact(url, "mixed-1", f);
}

TEST_CASE("a one-part job interrupted before parallel loading stays one part when resumed with parallel set") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_par_legacy");
  test::upload_dir dir;
  const auto f = test::generate({.records = 10'000, .bad_every = 77, .forbidden = false});
  dir.write("l.csv", f.content);
  auto cfg = parallel_config("legacy-1", url, dir, "l.csv", 1, 1000);
  cfg.after_commit = [](const tasks::import_summary& s) {
    if (s.chunks == 3) throw simulated_crash{};
  };
  CHECK_THROWS_AS(tasks::run_csv_import(cfg), simulated_crash);
  cfg.after_commit = nullptr;
  cfg.request.parallel = 4;
  const auto s = tasks::run_csv_import(cfg);
  CHECK(s.parts == 1);
  CHECK(s.resumed);
  CHECK(s.rows_loaded == f.good_rows);
  CHECK(count(url, "SELECT count(*) FROM celeriac_import_parts") == 0);
  check_exact(url, "legacy-1", f);
}

TEST_CASE("fewer records than parts, and a file with only its header") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_par_small");
  test::upload_dir dir;
  const auto f = test::generate({.records = 2, .bad_every = 0});
  dir.write("s.csv", f.content);
  const auto s = tasks::run_csv_import(parallel_config("small-1", url, dir, "s.csv", 8));
  CHECK(s.parts >= 2);
  CHECK(s.parts <= 3);  // cuts after the header and after the first record at most
  CHECK(s.rows_loaded == 2);
  check_exact(url, "small-1", f);

  dir.write("h.csv", "merchant_name,category,ticker,confidence,user_id,created_at\n");
  const auto h = tasks::run_csv_import(parallel_config("header-only-1", url, dir, "h.csv", 4));
  CHECK(h.parts == 1);
  CHECK(h.rows_loaded == 0);
  // A header that does not match is refused by the part that reads it.
  dir.write("bad.csv", "merchant,category,ticker,confidence,user_id,created_at\nA,B,,0.5,1,2024-01-01T00:00:00Z\n"
                       "C,D,,0.5,2,2024-01-01T00:00:00Z\n");
  CHECK_THROWS_WITH_AS(tasks::run_csv_import(parallel_config("bad-header-1", url, dir, "bad.csv", 4)),
                       doctest::Contains("the CSV header does not match"), app::task_error);
}

TEST_CASE("max_errors counts the rejected rows of every part") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_par_maxerr");
  test::upload_dir dir;
  const auto f = test::generate({.records = 4000, .bad_every = 10, .forbidden = false});
  dir.write("e.csv", f.content);
  auto cfg = parallel_config("maxerr-1", url, dir, "e.csv", 4, 100);
  cfg.request.max_errors = 25;
  try {
    tasks::run_csv_import(cfg);
    FAIL("no exception");
  } catch (const app::task_error& e) {
    CHECK(e.exc_type() == "ValueError");
    CHECK(std::string(e.what()).find("more than max_errors=25") != std::string::npos);
  }
  // Each part stops at the record that takes the total it knows past the
  // limit: a few more than 26 rows may be recorded, never 400.
  const auto rejected = count(url, "SELECT rows_rejected FROM celeriac_import_checkpoints WHERE task_id = 'maxerr-1'");
  CHECK(rejected >= 26);
  CHECK(rejected <= 26 + 3 * 10);
  check_sums(url, "maxerr-1");
  const auto loaded = count(url, "SELECT count(*) FROM llm_mappings");
  CHECK_THROWS_AS(tasks::run_csv_import(cfg), app::task_error);
  CHECK(count(url, "SELECT count(*) FROM llm_mappings") == loaded);
}

TEST_CASE("the task with parallel=4 revoked: every part stops at a chunk boundary; the same id finishes") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_par_stop");
  test::upload_dir dir;
  const auto f = test::generate({.records = 30'000, .bad_every = 50, .forbidden = false});
  dir.write("s.csv", f.content);
  app::task_resources resources;
  resources.database_url = url;
  resources.upload_dir = dir.path().string();
  app::set_process_task_resources(resources);
  app::task_registry registry;
  tasks::register_csv_import_task(registry);
  const app::task_definition* task = registry.find(tasks::csv_import_task_name);
  REQUIRE(task);
  const json::object kwargs{{"path", "s.csv"}, {"profile", "llm_mappings"}, {"chunk_rows", 500}, {"parallel", 4}};
  const std::atomic<bool> no_shutdown{false};
  app::task_request request;
  request.id = "par-stop-1";
  request.name = tasks::csv_import_task_name;

  std::atomic<std::uint64_t> terminate{0};
  std::atomic<int> reports{0};
  std::mutex m;
  json::value last_meta;
  app::task_context revoked(request, [&](const app::task_request&, const app::progress_report& p) {
    {
      std::lock_guard lock(m);
      last_meta = p.meta;
    }
    if (++reports == 10) terminate = 9;
  }, &no_shutdown, app::run_limits{.terminate_seq = &terminate, .seq = 9});
  try {
    task->fn(revoked, {}, kwargs);
    FAIL("the revoked import finished");
  } catch (const app::task_terminated& e) {
    CHECK(std::string(e.what()).find("stopped at line") != std::string::npos);
    CHECK(std::string(e.what()).find("of part") != std::string::npos);
    CHECK(std::string(e.what()).find("all committed") != std::string::npos);
  }
  const auto stopped = count(url, "SELECT count(*) FROM llm_mappings");
  CHECK(stopped > 0);
  CHECK(stopped < static_cast<std::int64_t>(f.good_rows));
  check_sums(url, "par-stop-1");
  CHECK(last_meta.find("rows_loaded")->as_integer() == stopped);  // the last report holds the final sums

  app::task_context free_run(request, nullptr, &no_shutdown);
  const json::value summary = task->fn(free_run, {}, kwargs);
  CHECK(summary.find("resumed")->as_bool());
  CHECK(summary.find("parts")->as_integer() == 4);
  CHECK(summary.find("rows_loaded")->as_integer() == static_cast<std::int64_t>(f.good_rows));
  check_exact(url, "par-stop-1", f);
  app::set_process_task_resources({});
}

}  // TEST_SUITE
