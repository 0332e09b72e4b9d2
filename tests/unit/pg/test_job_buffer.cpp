#include <doctest/doctest.h>

#include <string>

#include "pg/job_buffer.hpp"

using namespace celeriac::pg;

namespace {

job_update make(std::string id, job_state s, std::optional<std::int64_t> done = std::nullopt) {
  job_update u;
  u.task_id = std::move(id);
  u.state = s;
  u.progress_done = done;
  return u;
}

}  // namespace

TEST_CASE("job_buffer keeps one merged update per task id") {
  job_buffer b(10);
  for (int i = 0; i < 100; ++i) b.add(make("a", job_state::progress, i));
  b.add(make("b", job_state::started));
  b.add(make("a", job_state::success, 100));
  b.add(make("a", job_state::progress, 50));  // late: ignored for state and progress
  CHECK(b.size() == 2);
  auto batch = b.take(10);
  REQUIRE(batch.size() == 2);
  CHECK(batch.task_id(0) == "a");
  CHECK(batch.update(0).state == job_state::success);
  CHECK(batch.update(0).progress_done == 100);
  CHECK(batch.task_id(1) == "b");
  CHECK(b.empty());
}

TEST_CASE("job_buffer take() returns final states first and sorts each batch by task id") {
  job_buffer b(10);
  b.add(make("z-progress", job_state::progress, 1));
  b.add(make("y-progress", job_state::progress, 1));
  b.add(make("m-done", job_state::success));
  auto first = b.take(1);
  REQUIRE(first.size() == 1);
  CHECK(first.task_id(0) == "m-done");
  auto rest = b.take(10);
  REQUIRE(rest.size() == 2);
  CHECK(rest.task_id(0) == "y-progress");
  CHECK(rest.task_id(1) == "z-progress");
}

TEST_CASE("a full job_buffer drops the oldest non-final update first") {
  job_buffer b(3);
  b.add(make("old-progress", job_state::progress, 1));
  b.add(make("done", job_state::success));
  b.add(make("new-progress", job_state::progress, 1));
  CHECK_FALSE(b.add(make("fresh", job_state::received)));
  CHECK(b.size() == 3);
  CHECK(b.dropped_nonfinal() == 1);
  CHECK(b.dropped_final() == 0);
  auto all = b.take(10);
  REQUIRE(all.size() == 3);
  CHECK(all.task_id(0) == "done");
  CHECK(all.task_id(1) == "fresh");
  CHECK(all.task_id(2) == "new-progress");
}

TEST_CASE("a job_buffer of final states only drops the oldest final one and says which") {
  job_buffer b(2);
  b.add(make("f1", job_state::success));
  b.add(make("f2", job_state::failure));
  auto dropped = b.add(make("f3", job_state::revoked));
  REQUIRE(dropped);
  CHECK(*dropped == "f1");
  CHECK(b.dropped_final() == 1);
  // A progress update becoming final moves to the final list.
  job_buffer c(2);
  c.add(make("p", job_state::progress, 1));
  c.add(make("q", job_state::progress, 1));
  c.add(make("p", job_state::success));
  CHECK_FALSE(c.add(make("r", job_state::received)));  // drops q, not p
  auto all = c.take(10);
  REQUIRE(all.size() == 2);
  CHECK(all.task_id(0) == "p");
  CHECK(all.task_id(1) == "r");
}

TEST_CASE("put_back merges newer pending updates on top of the failed batch") {
  job_buffer b(10);
  b.add(make("a", job_state::progress, 10));
  b.add(make("b", job_state::started));
  auto batch = b.take(10);
  // While the batch was being written (and failed), newer updates arrived.
  b.add(make("a", job_state::progress, 20));
  b.add(make("c", job_state::received));
  auto dropped = b.put_back(batch);
  CHECK(dropped.empty());
  CHECK(b.size() == 3);
  auto all = b.take(10);
  REQUIRE(all.size() == 3);
  CHECK(all.task_id(0) == "a");
  CHECK(all.update(0).progress_done == 20);
  CHECK(all.task_id(1) == "b");
  CHECK(all.update(1).state == job_state::started);
  CHECK(all.task_id(2) == "c");

  // A failed final state stays final under a late pending progress update.
  b.add(make("d", job_state::success));
  auto finals = b.take(10);
  b.add(make("d", job_state::progress, 5));
  b.put_back(finals);
  auto d = b.take(10);
  REQUIRE(d.size() == 1);
  CHECK(d.update(0).state == job_state::success);
}

TEST_CASE("put_back into a full buffer loses the returning non-final updates before pending final ones") {
  job_buffer b(2);
  b.add(make("p", job_state::progress, 1));
  auto batch = b.take(10);
  b.add(make("f1", job_state::success));
  b.add(make("f2", job_state::success));
  auto dropped = b.put_back(batch);
  CHECK(dropped.empty());
  CHECK(b.dropped_nonfinal() == 1);
  CHECK(b.size() == 2);
}

TEST_CASE("a task id in flight is not taken again until its write returns") {
  job_buffer b(10);
  b.add(make("a", job_state::progress, 1));
  b.add(make("b", job_state::progress, 1));
  auto first = b.take(10);
  REQUIRE(first.size() == 2);
  CHECK(b.in_flight() == 2);
  b.add(make("a", job_state::progress, 2));  // arrives while "a" is being written
  b.add(make("c", job_state::received));
  auto second = b.take(10);
  REQUIRE(second.size() == 1);  // "a" is held back, so it cannot overtake its first write
  CHECK(second.task_id(0) == "c");
  CHECK(b.size() == 1);
  b.written(first);
  CHECK(b.in_flight() == 1);
  auto third = b.take(10);
  REQUIRE(third.size() == 1);
  CHECK(third.task_id(0) == "a");
  CHECK(third.update(0).progress_done == 2);
  b.put_back(third);
  b.written(second);
  CHECK(b.in_flight() == 0);
  CHECK(b.size() == 1);
}

TEST_CASE("take() can be limited to what was pending when a flush began") {
  job_buffer b(10);
  b.add(make("early", job_state::progress, 1));
  b.add(make("done-early", job_state::started));
  const auto mark = b.last_added();
  b.add(make("late", job_state::progress, 1));
  b.add(make("done-early", job_state::success));  // merged: keeps its place
  b.add(make("done-late", job_state::success));
  auto batch = b.take(10, mark);
  REQUIRE(batch.size() == 2);
  CHECK(batch.task_id(0) == "done-early");
  CHECK(batch.update(0).state == job_state::success);
  CHECK(batch.task_id(1) == "early");
  b.written(batch);
  auto rest = b.take(10);
  REQUIRE(rest.size() == 2);
  CHECK(rest.task_id(0) == "done-late");
  CHECK(rest.task_id(1) == "late");
}
