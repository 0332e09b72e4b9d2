#include <doctest/doctest.h>

#include <string>

#include "pg/job_notification.hpp"

using namespace celeriac::pg;

TEST_CASE("parse_job_notifications reads a batch's payload") {
  auto rows = parse_job_notifications(
      R"([{"task_id":"abc","state":"PROGRESS","progress_done":40,"progress_total":100,"progress_unit":"rows"},)"
      R"({"task_id":"x","state":"SUCCESS"}])");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].task_id == "abc");
  CHECK(rows[0].state == job_state::progress);
  CHECK(rows[0].progress_done == 40);
  CHECK(rows[0].progress_total == 100);
  CHECK(rows[0].progress_unit == "rows");
  CHECK(rows[1].task_id == "x");
  CHECK(rows[1].state == job_state::success);
  CHECK_FALSE(rows[1].progress_done);
  CHECK_FALSE(rows[1].progress_unit);
}

TEST_CASE("parse_job_notifications reads the one-row payloads of older workers") {
  // The exact text json_build_object produced.
  auto rows = parse_job_notifications(
      R"({"task_id" : "x", "state" : "SUCCESS", "progress_done" : null, "progress_total" : null, "progress_unit" : null})");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == job_state::success);
  CHECK_FALSE(rows[0].progress_done);
}

TEST_CASE("parse_job_notifications skips what is not a job row") {
  CHECK(parse_job_notifications("").empty());
  CHECK(parse_job_notifications("hello").empty());
  CHECK(parse_job_notifications("[1]").empty());
  CHECK(parse_job_notifications(R"({"state" : "SUCCESS"})").empty());
  CHECK(parse_job_notifications(R"({"task_id" : "x", "state" : "DONE"})").empty());
  auto mixed = parse_job_notifications(R"([{"task_id":"a","state":"DONE"},{"task_id":"b","state":"STARTED"}])");
  REQUIRE(mixed.size() == 1);
  CHECK(mixed[0].task_id == "b");
}

TEST_CASE("the packer splits rows into payloads under the NOTIFY limit, in order") {
  job_notification_packer packer;
  CHECK(packer.finish().empty());
  const std::string long_id(255, '\x01');  // each byte becomes a 6-byte \u escape
  for (int i = 0; i < 100; ++i)
    packer.add(long_id + std::to_string(i), "PROGRESS", i, 100, std::string_view("rows\"\n"));
  auto payloads = packer.finish();
  CHECK(payloads.size() > 1);
  int next = 0;
  for (const auto& p : payloads) {
    CHECK(p.size() <= max_notification_bytes);
    for (const auto& row : parse_job_notifications(p)) {
      CHECK(row.task_id == long_id + std::to_string(next));
      CHECK(row.progress_done == next);
      CHECK(row.progress_unit == "rows\"\n");
      ++next;
    }
  }
  CHECK(next == 100);
  CHECK(packer.finish().empty());  // reusable
}
