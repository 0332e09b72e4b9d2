// The heartbeat's node-wide active/processed figures from the children's slots.

#include <doctest/doctest.h>

#include <vector>

#include "worker/node_activity.hpp"

using namespace celeriac::worker;

TEST_CASE("active counts running children; processed counts finished and running tasks") {
  activity_tally t;
  std::vector<slot_reading> slots{{101, false, 0}, {102, false, 0}, {0, false, 0}};
  auto a = t.update(slots);
  CHECK(a.active == 0);
  CHECK(a.processed == 0);
  slots = {{101, true, 3}, {102, false, 4}, {0, false, 0}};
  a = t.update(slots);
  CHECK(a.active == 1);
  CHECK(a.processed == 8);  // 3 + 4 finished, 1 running
}

TEST_CASE("a replaced child's tasks stay counted") {
  activity_tally t;
  std::vector<slot_reading> slots{{101, false, 5}, {102, false, 2}};
  CHECK(t.update(slots).processed == 7);
  // Child 101 died: the slot still shows its count, then is reset.
  slots = {{0, false, 6}, {102, false, 2}};
  CHECK(t.update(slots).processed == 8);
  slots = {{0, false, 0}, {102, false, 2}};
  CHECK(t.update(slots).processed == 8);
  // Its replacement starts from 0.
  slots = {{103, true, 1}, {102, false, 3}};
  auto a = t.update(slots);
  CHECK(a.active == 1);
  CHECK(a.processed == 6 + 1 + 3 + 1);
  // Replaced again between two readings, without a pid-0 reading.
  slots = {{104, false, 0}, {102, false, 3}};
  CHECK(t.update(slots).processed == 6 + 1 + 3);
}

TEST_CASE("the total never goes down, even when a slot reads lower for the same child") {
  activity_tally t;
  std::vector<slot_reading> slots{{7, false, 10}};
  CHECK(t.update(slots).processed == 10);
  slots = {{7, false, 9}};
  CHECK(t.update(slots).processed == 10);
  // More slots than before (the pool grew).
  slots = {{7, false, 10}, {8, true, 0}};
  auto a = t.update(slots);
  CHECK(a.processed == 11);
  CHECK(a.active == 1);
}
