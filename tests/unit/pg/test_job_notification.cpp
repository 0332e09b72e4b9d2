#include <doctest/doctest.h>

#include "pg/listen.hpp"

using namespace celeriac::pg;

TEST_CASE("parse_job_notification reads the job store's payloads") {
  // The exact text json_build_object produces.
  auto n = parse_job_notification(
      R"({"task_id" : "abc", "state" : "PROGRESS", "progress_done" : 40, "progress_total" : 100, "progress_unit" : "rows"})");
  REQUIRE(n);
  CHECK(n->task_id == "abc");
  CHECK(n->state == job_state::progress);
  CHECK(n->progress_done == 40);
  CHECK(n->progress_total == 100);
  CHECK(n->progress_unit == "rows");

  auto bare = parse_job_notification(
      R"({"task_id" : "x", "state" : "SUCCESS", "progress_done" : null, "progress_total" : null, "progress_unit" : null})");
  REQUIRE(bare);
  CHECK(bare->state == job_state::success);
  CHECK_FALSE(bare->progress_done);
  CHECK_FALSE(bare->progress_unit);
}

TEST_CASE("parse_job_notification refuses other payloads") {
  CHECK_FALSE(parse_job_notification(""));
  CHECK_FALSE(parse_job_notification("hello"));
  CHECK_FALSE(parse_job_notification("[1]"));
  CHECK_FALSE(parse_job_notification(R"({"state" : "SUCCESS"})"));
  CHECK_FALSE(parse_job_notification(R"({"task_id" : "x", "state" : "DONE"})"));
}
