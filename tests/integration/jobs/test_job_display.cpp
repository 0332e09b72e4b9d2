// The text `celeriac status` and `celeriac jobs` print (no server needed).
#include <doctest/doctest.h>

#include "json/parse.hpp"
#include "worker/job_display.hpp"

using namespace celeriac;
using namespace std::chrono_literals;

namespace {

util::wall_time at(double seconds) {
  return util::wall_time(std::chrono::microseconds(static_cast<std::int64_t>(1'790'000'000e6 + seconds * 1e6)));
}

}  // namespace

TEST_CASE("amounts, rates and durations") {
  CHECK(worker::format_amount(950, "bytes") == "950 B");
  CHECK(worker::format_amount(38'200'000, "bytes") == "38.2 MB");
  CHECK(worker::format_amount(84'912'345, "bytes") == "84.9 MB");
  CHECK(worker::format_amount(1'500, "bytes") == "1.50 kB");
  CHECK(worker::format_amount(412'000, "rows") == "412k rows");
  CHECK(worker::format_amount(7, "items") == "7 items");
  CHECK(worker::format_amount(1'000'000, "") == "1.00M");
  CHECK(worker::format_rate(412'345, "rows") == "412k rows/s");
  CHECK(worker::format_rate(12'345'678, "bytes") == "12.3 MB/s");
  CHECK(worker::format_rate(3.5, "items") == "3.5 items/s");
  CHECK(worker::format_duration(7.2) == "0:07");
  CHECK(worker::format_duration(750) == "12:30");
  CHECK(worker::format_duration(3723) == "1:02:03");
  CHECK(worker::format_duration(-1) == "-");
  CHECK(worker::progress_bar(0.45, 20) == "[#########...........]");
  CHECK(worker::progress_bar(1.2, 4) == "[####]");
  CHECK(worker::progress_bar(0, 4) == "[....]");
}

TEST_CASE("the live line: bar, amounts, row rate from meta, ETA from the byte rate") {
  pg::job_row job;
  job.task_id = "t";
  job.state = pg::job_state::progress;
  job.progress_unit = "bytes";
  job.progress_total = 84'900'000;
  worker::rate_meter meter;
  job.progress_done = 18'200'000;
  job.meta = *json::parse(R"({"rows_loaded": 212000, "rows_rejected": 0})");
  meter.add(at(0), *job.progress_done, 212'000);
  CHECK(worker::progress_line(job, meter) == "[####................]  21% 18.2 MB/84.9 MB");
  job.progress_done = 38'200'000;
  meter.add(at(1), *job.progress_done, 624'000);
  // 20 MB/s leaves 46.7 MB: 2.3 s.
  CHECK(worker::progress_line(job, meter) == "[########............]  44% 38.2 MB/84.9 MB  412k rows/s  ETA 0:02");
  job.state = pg::job_state::success;
  CHECK(worker::progress_line(job, meter).find("ETA") == std::string::npos);

  pg::job_row plain;
  plain.state = pg::job_state::started;
  CHECK(worker::progress_line(plain, meter) == "STARTED");
}

TEST_CASE("the rate meter keeps a window and restarts when a new attempt goes back") {
  worker::rate_meter m(10s);
  CHECK_FALSE(m.rate());
  m.add(at(0), 0, std::nullopt);
  m.add(at(0), 10, std::nullopt);  // same time: replaces
  CHECK_FALSE(m.rate());
  m.add(at(2), 210, std::nullopt);
  CHECK(*m.rate() == doctest::Approx(100));
  CHECK_FALSE(m.row_rate());
  for (int s = 3; s <= 30; ++s) m.add(at(s), 210 + (s - 2) * 50, std::nullopt);
  CHECK(*m.rate() == doctest::Approx(50));  // the early, faster part has left the window
  m.add(at(31), 5, std::nullopt);          // attempt 2 starts again
  CHECK_FALSE(m.rate());
}

TEST_CASE("describe_job and the jobs table") {
  pg::job_row j;
  j.task_id = "3f2a";
  j.name = "celeriac.csv_import";
  j.state = pg::job_state::failure;
  j.attempts = 2;
  j.queue = "celery";
  j.worker = "celeriac@host";
  j.error = "ValueError: too many errors";
  j.created_at = at(0);
  j.started_at = at(1);
  j.finished_at = at(66);
  j.progress_done = 5;
  j.progress_total = 10;
  j.progress_unit = "rows";
  const std::string text = worker::describe_job(j);
  CHECK(text.find("task      3f2a\n") == 0);
  CHECK(text.find("state     FAILURE (attempt 2)\n") != std::string::npos);
  CHECK(text.find("progress  [##########..........]  50% 5 rows/10 rows\n") != std::string::npos);
  CHECK(text.find("runtime   1:05\n") != std::string::npos);
  CHECK(text.find("error     ValueError: too many errors\n") != std::string::npos);

  pg::job_row k;
  k.task_id = "b";
  k.state = pg::job_state::received;
  k.created_at = at(70);
  const std::string table = worker::jobs_table({j, k}, at(80));
  CHECK(table ==
        "TASK ID  NAME                 STATE     PROGRESS            ATTEMPTS  WORKER         CREATED (UTC)        "
        "RUNTIME\n"
        "3f2a     celeriac.csv_import  FAILURE   50% 5 rows/10 rows  2         celeriac@host  " +
            worker::format_time(at(0)) +
            "  1:05\n"
            "b        -                    RECEIVED  -                   1         -              " +
            worker::format_time(at(70)) + "  -\n");
}
