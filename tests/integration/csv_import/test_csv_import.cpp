// celeriac.csv_import's engine (tasks::run_csv_import) against a real
// PostgreSQL: exact loaded and rejected rows and line numbers, server-side
// refusals found by splitting chunks, resume after a crash, two deliveries
// at once, a connection killed and the server restarted mid-import,
// upserts, and the failures a caller must see clearly.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

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

std::vector<std::tuple<std::int64_t, std::string, std::string>> error_rows(const std::string& url,
                                                                           const std::string& task_id) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  std::vector<std::tuple<std::int64_t, std::string, std::string>> out;
  for (const auto& r : tx.exec_params(
           "SELECT line_number, coalesce(column_name, ''), reason FROM celeriac_import_errors WHERE task_id = $1 "
           "ORDER BY line_number",
           task_id))
    out.emplace_back(r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::string>());
  return out;
}

void forbid_names(const std::string& url) {
  sql(url, "ALTER TABLE llm_mappings ADD CONSTRAINT no_forbidden CHECK (merchant_name NOT LIKE 'FORBIDDEN%')");
}

}  // namespace

TEST_SUITE("integration") {

TEST_CASE("100k rows with 1% bad records of every kind: exact counts, line numbers and columns") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_exact");
  forbid_names(url);
  test::upload_dir dir;
  const auto f = test::generate({.records = 100'000, .bad_every = 100, .too_large = true, .unterminated_at_end = true});
  dir.write("m.csv", f.content);
  REQUIRE(f.errors.size() == 1002);

  auto cfg = test::llm_config("exact-1", url, dir, "m.csv", 5000, 10'000);
  std::vector<tasks::import_progress> progress;
  cfg.on_progress = [&](const tasks::import_progress& p) { progress.push_back(p); };
  const auto s = tasks::run_csv_import(cfg);

  CHECK(s.rows_loaded == f.good_rows);
  CHECK(s.rows_rejected == f.errors.size());
  CHECK_FALSE(s.resumed);
  std::string why;
  CHECK_MESSAGE(test::holds_exactly(url, f, why), why);

  const auto rows = error_rows(url, "exact-1");
  REQUIRE(rows.size() == f.errors.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& [line, column, reason] = rows[i];
    INFO("expected ", f.errors[i].kind, " at line ", f.errors[i].line, "; got line ", line, ": ", reason);
    CHECK(static_cast<std::uint64_t>(line) == f.errors[i].line);
    CHECK(column == f.errors[i].column);
    if (f.errors[i].kind == "forbidden") CHECK(reason.find("no_forbidden") != std::string::npos);
  }
  // Raw records are kept, bounded.
  CHECK(count(url, "SELECT max(length(raw_record)) FROM celeriac_import_errors") <= 4096);
  CHECK(count(url, "SELECT count(*) FROM celeriac_import_errors WHERE raw_record IS NULL") == 0);
  CHECK(count(url, "SELECT count(*) FROM celeriac_import_errors WHERE position('\\xff'::bytea IN raw_record) > 0") ==
        static_cast<std::int64_t>(std::count_if(f.errors.begin(), f.errors.end(),
                                                [](const auto& e) { return e.kind == "invalid_utf8"; })));

  // Progress: in bytes, forward only, ending at the file's size with the totals.
  REQUIRE(progress.size() >= 20);
  for (std::size_t i = 1; i < progress.size(); ++i) CHECK(progress[i].bytes_done >= progress[i - 1].bytes_done);
  CHECK(progress.back().bytes_done == f.content.size());
  CHECK(progress.back().bytes_total == f.content.size());
  CHECK(progress.back().rows_loaded == f.good_rows);
  CHECK(progress.back().rows_rejected == f.errors.size());

  // Running the finished job again changes nothing and reports the same.
  const auto again = tasks::run_csv_import(cfg);
  CHECK(again.rows_loaded == f.good_rows);
  CHECK(again.rows_rejected == f.errors.size());
  CHECK(again.resumed);
  CHECK(again.chunks == 0);
  CHECK_MESSAGE(test::holds_exactly(url, f, why), why);
  CHECK(error_rows(url, "exact-1").size() == f.errors.size());
}

TEST_CASE("a crash after some chunks: the next run resumes at the checkpoint, every row once") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_resume");
  forbid_names(url);
  test::upload_dir dir;
  const auto f = test::generate({.records = 20'000, .bad_every = 50});
  dir.write("r.csv", f.content);

  auto cfg = test::llm_config("resume-1", url, dir, "r.csv", 1000, 10'000);
  cfg.after_commit = [](const tasks::import_summary& s) {
    if (s.chunks == 7) throw simulated_crash{};
  };
  CHECK_THROWS_AS(tasks::run_csv_import(cfg), simulated_crash);
  const auto partial = count(url, "SELECT count(*) FROM llm_mappings");
  CHECK(partial > 0);
  CHECK(partial < static_cast<std::int64_t>(f.good_rows));
  CHECK(count(url, "SELECT rows_done FROM celeriac_import_checkpoints WHERE task_id = 'resume-1'") == partial);

  cfg.after_commit = nullptr;
  const auto s = tasks::run_csv_import(cfg);
  CHECK(s.resumed);
  CHECK(s.rows_loaded == f.good_rows);
  CHECK(s.rows_loaded_now == f.good_rows - static_cast<std::uint64_t>(partial));
  CHECK(s.rows_rejected == f.errors.size());
  std::string why;
  CHECK_MESSAGE(test::holds_exactly(url, f, why), why);
  CHECK(error_rows(url, "resume-1").size() == f.errors.size());
}

TEST_CASE("two deliveries of one job at once never both load a chunk") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_twice");
  forbid_names(url);
  test::upload_dir dir;
  const auto f = test::generate({.records = 30'000, .bad_every = 97});
  dir.write("t.csv", f.content);

  auto cfg = test::llm_config("twice-1", url, dir, "t.csv", 500, 10'000);
  tasks::import_summary a, b;
  std::thread other([&] { b = tasks::run_csv_import(cfg); });
  a = tasks::run_csv_import(cfg);
  other.join();
  CHECK(a.rows_loaded == f.good_rows);
  CHECK(b.rows_loaded == f.good_rows);
  CHECK(a.rows_rejected == f.errors.size());
  CHECK(b.rows_rejected == f.errors.size());
  CHECK(a.chunks + b.chunks == 60);  // 30,000 records in chunks of 500
  std::string why;
  CHECK_MESSAGE(test::holds_exactly(url, f, why), why);
  CHECK(error_rows(url, "twice-1").size() == f.errors.size());
  MESSAGE("chunks: ", a.chunks, " + ", b.chunks, "; lost races: ", a.lost_races, " + ", b.lost_races);
}

TEST_CASE("the load connection killed mid-import: reconnects and resumes") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_killconn");
  test::upload_dir dir;
  const auto f = test::generate({.records = 40'000, .bad_every = 0});
  dir.write("k.csv", f.content);
  auto cfg = test::llm_config("killconn-1", url, dir, "k.csv", 1000, 0);
  int kills = 0;
  cfg.after_commit = [&](const tasks::import_summary& s) {
    // Terminate our own backend from another session, twice, while the
    // next chunk streams.
    if (s.chunks == 5 || s.chunks == 15) {
      std::thread([url, &kills] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        pqxx::connection c{url};
        pqxx::nontransaction tx{c};
        kills += tx.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                         "'celeriac-csv-import' AND datname = current_database()")
                     .size();
      }).join();
    }
  };
  const auto s = tasks::run_csv_import(cfg);
  CHECK(kills == 2);
  CHECK(s.reconnects >= 2);
  CHECK(s.rows_loaded == f.good_rows);
  std::string why;
  CHECK_MESSAGE(test::holds_exactly(url, f, why), why);
}

TEST_CASE("PostgreSQL restarted mid-import (and killed -9 once): the import still finishes exactly") {
  test::pg_server server;  // its own: this test stops it
  const std::string url = test::migrated_database(server, "csv_restart");
  test::upload_dir dir;
  const auto f = test::generate({.records = 60'000, .bad_every = 200, .forbidden = false});
  dir.write("p.csv", f.content);
  auto cfg = test::llm_config("restart-1", url, dir, "p.csv", 2000, 10'000);
  std::atomic<std::uint64_t> chunks{0};
  cfg.after_commit = [&](const tasks::import_summary& s) {
    chunks = s.chunks;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // leave time to strike mid-chunk
  };
  tasks::import_summary s;
  std::string failure;
  // The import runs on a thread of its own; the server is restarted from
  // this one (pg_server ties the server's life to the thread that starts it).
  std::thread importer([&] {
    try {
      s = tasks::run_csv_import(cfg);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  auto wait_for_chunks = [&](std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (chunks < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  wait_for_chunks(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(25));
  server.restart();
  wait_for_chunks(12);
  std::this_thread::sleep_for(std::chrono::milliseconds(25));
  server.kill9();  // commits not yet flushed may be lost: rows and checkpoint together
  server.restart();
  importer.join();
  REQUIRE_MESSAGE(failure.empty(), failure);
  CHECK(s.reconnects >= 2);
  CHECK(s.rows_loaded == f.good_rows);
  CHECK(s.rows_rejected == f.errors.size());
  std::string why;
  CHECK_MESSAGE(test::holds_exactly(url, f, why), why);
  CHECK(error_rows(url, "restart-1").size() == f.errors.size());
}

TEST_CASE("upsert: last row per key wins, within a chunk and across chunks; refused rows are found") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_upsert");
  sql(url, "CREATE TABLE things (name text PRIMARY KEY, qty bigint CHECK (qty >= 0), note text)");
  sql(url, "INSERT INTO things VALUES ('b', 1, 'old'), ('z', 9, 'untouched')");
  test::upload_dir dir;
  dir.write("u.csv",
            "name,qty,note\n"
            "a,1,first a\n"
            "b,2,first b\n"
            "a,3,second a\n"  // same chunk as the first a: this one wins
            "c,-1,refused\n"  // CHECK (qty >= 0)
            "b,4,second b\n"  // next chunk
            "a,5,third a\n"
            "c,6,good c\n"
            "d,x,bad qty\n");
  tasks::importer_config cfg;
  cfg.task_id = "upsert-1";
  cfg.database_url = url;
  cfg.upload_dir = dir.path();
  app::task_resources res;
  res.import_tables = {"things"};
  cfg.request = tasks::parse_import_request(
      {}, {{"path", "u.csv"}, {"columns", "name:text!,qty:integer,note:text"}, {"table", "things"}, {"key", "name"},
           {"mode", "upsert"}, {"chunk_rows", 4}},
      res);
  const auto s = tasks::run_csv_import(cfg);
  CHECK(s.rows_loaded == 6);
  CHECK(s.rows_rejected == 2);
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  std::map<std::string, std::pair<std::int64_t, std::string>> got;
  for (const auto& r : tx.exec("SELECT name, qty, note FROM things"))
    got[r[0].as<std::string>()] = {r[1].as<std::int64_t>(), r[2].as<std::string>()};
  CHECK(got.size() == 4);
  CHECK(got["a"] == std::make_pair(std::int64_t{5}, std::string("third a")));
  CHECK(got["b"] == std::make_pair(std::int64_t{4}, std::string("second b")));
  CHECK(got["c"] == std::make_pair(std::int64_t{6}, std::string("good c")));
  CHECK(got["z"] == std::make_pair(std::int64_t{9}, std::string("untouched")));
  const auto errors = error_rows(url, "upsert-1");
  REQUIRE(errors.size() == 2);
  CHECK(std::get<0>(errors[0]) == 5);
  CHECK(std::get<2>(errors[0]).find("things_qty_check") != std::string::npos);
  CHECK(std::get<0>(errors[1]) == 9);
  CHECK(std::get<1>(errors[1]) == "qty");
}

TEST_CASE("upsert without a unique index on the key fails before reading, saying what to create") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_upsert_noindex");
  test::upload_dir dir;
  const auto f = test::generate({.records = 10, .bad_every = 0});
  dir.write("n.csv", f.content);
  auto cfg = test::llm_config("noindex-1", url, dir, "n.csv", 100, 0);
  cfg.request.mode = tasks::import_mode::upsert;
  CHECK_THROWS_WITH_AS(tasks::run_csv_import(cfg),
                       doctest::Contains("needs a unique index or constraint on exactly (merchant_name)"),
                       app::task_error);
  CHECK(count(url, "SELECT count(*) FROM llm_mappings") == 0);
}

TEST_CASE("the task asked to stop (soft limit, revoke) stops at a chunk boundary; the same id finishes the job") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_stop");
  test::upload_dir dir;
  const auto f = test::generate({.records = 20'000, .bad_every = 50, .forbidden = false});
  dir.write("s.csv", f.content);
  app::task_resources resources;
  resources.database_url = url;
  resources.upload_dir = dir.path().string();
  app::set_process_task_resources(resources);
  app::task_registry registry;
  tasks::register_csv_import_task(registry);
  const app::task_definition* task = registry.find(tasks::csv_import_task_name);
  REQUIRE(task);
  const json::object kwargs{{"path", "s.csv"}, {"profile", "llm_mappings"}, {"chunk_rows", 1000}};
  const std::atomic<bool> no_shutdown{false};
  app::task_request request;
  request.id = "stop-1";
  request.name = tasks::csv_import_task_name;
  auto committed = [&] { return count(url, "SELECT count(*) FROM llm_mappings"); };
  auto checkpoint_rows = [&] {
    return count(url, "SELECT rows_done FROM celeriac_import_checkpoints WHERE task_id = 'stop-1'");
  };

  // Soft limit: the 4th report (3 chunks committed) is slow enough to
  // cross the deadline, so progress() ends the run right after a commit.
  int reports = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  app::run_limits soft{.soft_deadline = deadline, .soft_limit_seconds = 1.5};
  app::task_context slow(request, [&](const app::task_request&, const app::progress_report&) {
    if (++reports == 4) std::this_thread::sleep_until(deadline + std::chrono::milliseconds(1));
  }, &no_shutdown, soft);
  try {
    task->fn(slow, {}, kwargs);
    FAIL("the import ran past its soft limit");
  } catch (const app::soft_time_limit_exceeded& e) {
    CHECK(std::string(e.what()).find("all committed") != std::string::npos);
  }
  const auto after_soft = committed();
  CHECK(after_soft > 0);
  CHECK(after_soft < static_cast<std::int64_t>(f.good_rows));
  CHECK(checkpoint_rows() == after_soft);

  // Revoke with terminate: should_stop() turns true between chunks and
  // the import stops at the next boundary with Terminated.
  std::atomic<std::uint64_t> terminate{0};
  reports = 0;
  app::task_context revoked(request, [&](const app::task_request&, const app::progress_report&) {
    if (++reports == 3) terminate = 9;
  }, &no_shutdown, app::run_limits{.terminate_seq = &terminate, .seq = 9});
  CHECK_THROWS_AS(task->fn(revoked, {}, kwargs), app::task_terminated);
  const auto after_revoke = committed();
  CHECK(after_revoke > after_soft);
  CHECK(after_revoke < static_cast<std::int64_t>(f.good_rows));
  CHECK(checkpoint_rows() == after_revoke);

  // The same task id without limits resumes and ends with every row once.
  app::task_context free_run(request, nullptr, &no_shutdown);
  const json::value summary = task->fn(free_run, {}, kwargs);
  CHECK(summary.find("resumed")->as_bool());
  CHECK(summary.find("rows_loaded")->as_integer() == static_cast<std::int64_t>(f.good_rows));
  std::string why;
  CHECK_MESSAGE(test::holds_exactly(url, f, why), why);
  app::set_process_task_resources({});
}

TEST_CASE("past max_errors the job fails, keeping what it loaded and the errors it found") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_maxerr");
  test::upload_dir dir;
  const auto f = test::generate({.records = 1000, .bad_every = 10, .forbidden = false});
  dir.write("e.csv", f.content);
  auto cfg = test::llm_config("maxerr-1", url, dir, "e.csv", 100, 25);
  try {
    tasks::run_csv_import(cfg);
    FAIL("no exception");
  } catch (const app::task_error& e) {
    CHECK(e.exc_type() == "ValueError");
    CHECK(std::string(e.what()).find("26 rows rejected, more than max_errors=25") != std::string::npos);
    CHECK(std::string(e.what()).find("celeriac_import_errors") != std::string::npos);
  }
  CHECK(error_rows(url, "maxerr-1").size() == 26);
  CHECK(count(url, "SELECT rows_rejected FROM celeriac_import_checkpoints WHERE task_id = 'maxerr-1'") == 26);
  // Another delivery fails at once, without loading more.
  const auto loaded = count(url, "SELECT count(*) FROM llm_mappings");
  CHECK_THROWS_AS(tasks::run_csv_import(cfg), app::task_error);
  CHECK(count(url, "SELECT count(*) FROM llm_mappings") == loaded);
}

TEST_CASE("refusals a caller must understand: header, table, changed file, no database") {
  auto& server = test::shared_pg_server();
  const std::string url = test::migrated_database(server, "csv_refusals");
  test::upload_dir dir;

  SUBCASE("a header that does not match the profile loads nothing") {
    dir.write("h.csv", "merchant,category,ticker,confidence,user_id,created_at\nA,B,,0.5,1,2024-01-01T00:00:00Z\n");
    auto cfg = test::llm_config("header-1", url, dir, "h.csv", 100, 10);
    CHECK_THROWS_WITH_AS(tasks::run_csv_import(cfg), doctest::Contains("the CSV header does not match"),
                         app::task_error);
    CHECK(count(url, "SELECT count(*) FROM llm_mappings") == 0);
  }
  SUBCASE("a column of another type is named with the fix") {
    sql(url, "CREATE TABLE narrow (name text, qty integer)");
    dir.write("n.csv", "name,qty\na,1\n");
    tasks::importer_config cfg;
    cfg.task_id = "narrow-1";
    cfg.database_url = url;
    cfg.upload_dir = dir.path();
    app::task_resources res;
    res.import_tables = {"narrow"};
    cfg.request = tasks::parse_import_request({}, {{"path", "n.csv"}, {"columns", "name:text,qty:integer"},
                                                   {"table", "narrow"}},
                                              res);
    CHECK_THROWS_WITH_AS(tasks::run_csv_import(cfg),
                         doctest::Contains("column qty of table narrow is integer, but the import loads it as bigint"),
                         app::task_error);
  }
  SUBCASE("a file changed since the import began is not resumed") {
    const auto f = test::generate({.records = 3000, .bad_every = 0});
    dir.write("c.csv", f.content);
    auto cfg = test::llm_config("changed-1", url, dir, "c.csv", 500, 0);
    cfg.after_commit = [](const tasks::import_summary& s) {
      if (s.chunks == 2) throw simulated_crash{};
    };
    CHECK_THROWS_AS(tasks::run_csv_import(cfg), simulated_crash);
    dir.write("c.csv", f.content + "Late,Food,,0.5,99999,2024-01-01T00:00:00Z\n");
    cfg.after_commit = nullptr;
    CHECK_THROWS_WITH_AS(tasks::run_csv_import(cfg), doctest::Contains("the file changed since task changed-1 began"),
                         app::task_error);
    CHECK(count(url, "SELECT count(*) FROM llm_mappings") == 1000);
  }
  SUBCASE("no database configured") {
    dir.write("x.csv", "merchant_name,category,ticker,confidence,user_id,created_at\n");
    auto cfg = test::llm_config("nodb-1", "", dir, "x.csv", 100, 0);
    CHECK_THROWS_WITH_AS(tasks::run_csv_import(cfg), doctest::Contains("start it with --database"), app::task_error);
  }
  SUBCASE("a path outside the upload folder") {
    auto cfg = test::llm_config("escape-1", url, dir, "../../etc/passwd", 100, 0);
    CHECK_THROWS_WITH_AS(tasks::run_csv_import(cfg), doctest::Contains("refused"), app::task_error);
  }
  SUBCASE("PostgreSQL unreachable for the whole budget") {
    const auto f = test::generate({.records = 10, .bad_every = 0});
    dir.write("d.csv", f.content);
    auto cfg = test::llm_config("down-1", "postgresql://postgres@127.0.0.1:1/none", dir, "d.csv", 100, 0);
    cfg.reconnect_budget = std::chrono::milliseconds(600);
    CHECK_THROWS_AS(tasks::run_csv_import(cfg), tasks::database_unavailable);
  }
}

}  // TEST_SUITE
