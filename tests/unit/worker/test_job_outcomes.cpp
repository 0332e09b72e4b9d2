// The supervisor's hand-over of decided outcomes to a child's job store.

#include <doctest/doctest.h>

#include "worker/job_outcomes.hpp"

using namespace celeriac::worker;

TEST_CASE("a job outcome round-trips, and foreign text is refused") {
  job_outcome o{"celery", "FAILURE", "WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL)",
                "{\"body\": \"W10=\", \"x\": \"\\u00e9\"}"};
  auto back = decode_job_outcome(encode_job_outcome(o));
  REQUIRE(back);
  CHECK(back->queue == o.queue);
  CHECK(back->state == o.state);
  CHECK(back->error == o.error);
  CHECK(back->raw == o.raw);
  CHECK_FALSE(decode_job_outcome("not json"));
  CHECK_FALSE(decode_job_outcome("{\"queue\": \"q\"}"));
  CHECK_FALSE(decode_job_outcome("[1, 2]"));
}
