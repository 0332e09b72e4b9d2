#include <doctest/doctest.h>

#include "pg/job_update.hpp"

using namespace celeriac;
using namespace celeriac::pg;
using namespace std::chrono_literals;

namespace {

job_update make(job_state s, int attempts = 1, std::optional<std::int64_t> done = std::nullopt) {
  job_update u;
  u.task_id = "t1";
  u.state = s;
  u.attempts = attempts;
  u.progress_done = done;
  return u;
}

}  // namespace

TEST_CASE("job_state names round-trip and only final states are final") {
  for (auto s : {job_state::received, job_state::started, job_state::progress, job_state::retry, job_state::success,
                 job_state::failure, job_state::revoked})
    CHECK(parse_job_state(to_string(s)) == s);
  CHECK_FALSE(parse_job_state("success"));
  CHECK_FALSE(parse_job_state("PENDING"));
  CHECK(is_final(job_state::success));
  CHECK(is_final(job_state::failure));
  CHECK(is_final(job_state::revoked));
  CHECK_FALSE(is_final(job_state::retry));
  CHECK(state_rank(job_state::received) < state_rank(job_state::started));
  CHECK(state_rank(job_state::progress) < state_rank(job_state::retry));
}

TEST_CASE("normalize fills timestamps by state and refuses bad task ids") {
  const util::wall_time now = util::wall_now();
  auto started = make(job_state::started);
  REQUIRE(normalize(started, now));
  CHECK(started.created_at == now);
  CHECK(started.started_at == now);
  CHECK_FALSE(started.finished_at);

  auto done = make(job_state::success);
  done.attempts = 0;
  REQUIRE(normalize(done, now));
  CHECK(done.finished_at == now);
  CHECK_FALSE(done.started_at);
  CHECK(done.attempts == 1);

  auto given = make(job_state::received);
  given.created_at = now - 5s;
  REQUIRE(normalize(given, now));
  CHECK(given.created_at == now - 5s);

  job_update empty;
  CHECK_FALSE(normalize(empty, now));
  job_update huge;
  huge.task_id.assign(max_task_id_bytes + 1, 'x');
  CHECK_FALSE(normalize(huge, now));
}

TEST_CASE("normalize cleans and bounds text, drops oversized results") {
  auto u = make(job_state::success);
  u.error = std::string("bad\xff", 4);
  u.progress_unit = std::string(max_unit_bytes + 10, 'u');
  u.result = std::string(max_result_bytes + 1, '1');
  REQUIRE(normalize(u, util::wall_now()));
  CHECK(*u.error == "bad\xef\xbf\xbd");
  CHECK(u.progress_unit->size() == max_unit_bytes);
  CHECK_FALSE(u.result);
  REQUIRE(u.message);
  CHECK(u.message->find("not stored") != std::string::npos);
}

TEST_CASE("a final state is only replaced by a final state of the same or a later attempt") {
  CHECK_FALSE(takes_over(make(job_state::success), make(job_state::progress)));
  CHECK_FALSE(takes_over(make(job_state::success), make(job_state::started, 2)));
  CHECK(takes_over(make(job_state::success), make(job_state::failure)));
  CHECK(takes_over(make(job_state::success), make(job_state::failure, 2)));
  CHECK_FALSE(takes_over(make(job_state::success, 2), make(job_state::failure, 1)));
  CHECK(takes_over(make(job_state::progress, 3), make(job_state::success, 1)));
}

TEST_CASE("within an attempt the state only moves forward; a later attempt restarts it") {
  CHECK(takes_over(make(job_state::received), make(job_state::started)));
  CHECK(takes_over(make(job_state::progress), make(job_state::progress)));
  CHECK_FALSE(takes_over(make(job_state::progress), make(job_state::started)));
  CHECK_FALSE(takes_over(make(job_state::retry), make(job_state::progress)));
  CHECK(takes_over(make(job_state::retry, 1), make(job_state::received, 2)));
  CHECK_FALSE(takes_over(make(job_state::received, 2), make(job_state::retry, 1)));
}

TEST_CASE("merge_into keeps progress monotonic within an attempt") {
  auto cur = make(job_state::progress, 1, 50);
  cur.progress_total = 100;
  merge_into(cur, make(job_state::progress, 1, 40));  // late, lower
  CHECK(cur.progress_done == 50);
  merge_into(cur, make(job_state::progress, 1, 70));
  CHECK(cur.progress_done == 70);
  CHECK(cur.progress_total == 100);  // absent in the update: kept

  merge_into(cur, make(job_state::received, 2, 5));  // redelivered: starts again
  CHECK(cur.state == job_state::received);
  CHECK(cur.attempts == 2);
  CHECK(cur.progress_done == 5);

  merge_into(cur, make(job_state::progress, 1, 99));  // stale attempt
  CHECK(cur.state == job_state::received);
  CHECK(cur.progress_done == 5);
}

TEST_CASE("merge_into: late updates do not overwrite a final state; a final reports its own outcome") {
  auto cur = make(job_state::retry, 1);
  cur.error = "ConnectionError";
  cur.name = "tasks.x";
  auto ok = make(job_state::success, 2, 100);
  ok.result = "42";
  merge_into(cur, job_update(ok));
  CHECK(cur.state == job_state::success);
  CHECK_FALSE(cur.error);  // the SUCCESS has none
  CHECK(cur.result == "42");
  CHECK(cur.name == "tasks.x");

  auto late = make(job_state::progress, 2, 60);
  late.message = "late";
  late.meta = json::value(json::object{{"rows", 1}});
  merge_into(cur, std::move(late));
  CHECK(cur.state == job_state::success);
  CHECK(cur.progress_done == 100);
  CHECK(cur.message == "late");  // filled in where nothing was recorded
  CHECK(cur.result == "42");
}

TEST_CASE("merge_into keeps the earliest created_at and the first started/finished times") {
  const util::wall_time t0 = util::wall_now();
  auto cur = make(job_state::started);
  cur.created_at = t0;
  cur.started_at = t0 + 1s;
  auto next = make(job_state::success);
  next.created_at = t0 - 1s;
  next.started_at = t0 + 5s;
  next.finished_at = t0 + 9s;
  merge_into(cur, std::move(next));
  CHECK(cur.created_at == t0 - 1s);
  CHECK(cur.started_at == t0 + 1s);
  CHECK(cur.finished_at == t0 + 9s);
  auto again = make(job_state::failure, 2);
  again.finished_at = t0 + 20s;
  merge_into(cur, std::move(again));
  CHECK(cur.state == job_state::failure);
  CHECK(cur.finished_at == t0 + 9s);
}
