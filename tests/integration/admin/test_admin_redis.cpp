// lib/admin against a real redis-server: requeue, purge, queue stats.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "admin/dead_letters.hpp"
#include "admin/purge.hpp"
#include "admin/queue_stats.hpp"
#include "admin/redis_calls.hpp"
#include "integration/admin/admin_test_util.hpp"
#include "support/redis_server.hpp"

using namespace celeriac;
using namespace celeriac::admin;

namespace {

std::vector<std::string> lrange(redis::sync_client& c, std::string_view key) {
  auto reply = c.command("LRANGE", key, 0, -1);
  std::vector<std::string> out;
  for (const auto& v : *reply.elements()) out.emplace_back(*v.as_string());
  return out;
}

std::int64_t integer(redis::sync_client& c, std::string_view cmd, std::string_view key) {
  return *c.command(cmd, key).as_integer();
}

const std::string prio3 = std::string("celery\x06\x16") + "3";

}  // namespace

TEST_CASE("requeue: to the back of the priority list, entry and crash count gone, unreadable ones left") {
  test::redis_server server;
  auto c = test::connect_to(server.url());
  const std::string a = test::message("id-a", "tag-a", "celery", 5);
  const std::string b = test::message("id-b", "tag-b", "csv");
  const std::string e = test::message("id-e", "tag-e");
  const std::vector<std::string> entries = {
      test::dead_entry_text("unknown_task", "celery", a),            // oldest
      test::dead_entry_text("worker_lost", "", b),                   // queue from the routing key
      test::dead_entry_text("no_delivery_tag", "celery", "garbage"),
      test::dead_entry_text("not_json", "celery", "\xFF\xFE not utf-8"),
      test::dead_entry_text("bad_arguments", "celery", e),           // newest
  };
  for (const auto& entry : entries) c->command("LPUSH", "celeriac.dead", entry);
  c->command("LPUSH", "celery", "already-waiting");
  c->command("HSET", "celeriac.deliveries", "tag-a", 1);
  c->command("HSET", "celeriac.deliveries", "tag-b", 3);
  c->command("HSET", "celeriac.deliveries", "tag-other", 2);

  auto one = requeue_dead(*c, dead_filter{std::nullopt, "id-a"});
  REQUIRE(one.size() == 1);
  CHECK(one[0].state == requeue_outcome::status::requeued);
  CHECK(one[0].list == prio3);
  CHECK(lrange(*c, prio3) == std::vector<std::string>{a});  // exactly as it was
  CHECK(integer(*c, "LLEN", "celeriac.dead") == 4);
  CHECK(c->command("HEXISTS", "celeriac.deliveries", "tag-a") == resp::value::make_integer(0));
  CHECK(c->command("SISMEMBER", "_kombu.binding.celery", celery::binding_member("celery")) ==
        resp::value::make_integer(1));

  auto rest = requeue_dead(*c, dead_filter{});
  REQUIRE(rest.size() == 4);
  // Oldest first: b, the two unreadable ones, then e.
  CHECK(rest[0].state == requeue_outcome::status::requeued);
  CHECK(rest[0].queue == "csv");
  CHECK(rest[1].state == requeue_outcome::status::refused);
  CHECK(rest[2].state == requeue_outcome::status::refused);
  CHECK(rest[2].detail.find("raw_base64") != std::string::npos);
  CHECK(rest[3].state == requeue_outcome::status::requeued);
  CHECK(lrange(*c, "csv") == std::vector<std::string>{b});
  // LPUSH = the back of the queue: consumers pop from the right.
  CHECK(lrange(*c, "celery") == std::vector<std::string>{e, "already-waiting"});
  CHECK(lrange(*c, "celeriac.dead") == std::vector<std::string>{entries[3], entries[2]});
  CHECK(c->command("HEXISTS", "celeriac.deliveries", "tag-b") == resp::value::make_integer(0));
  CHECK(c->command("HEXISTS", "celeriac.deliveries", "tag-other") == resp::value::make_integer(1));

  // Running it again requeues nothing more.
  auto again = requeue_dead(*c, dead_filter{});
  CHECK(std::ranges::none_of(again, [](const auto& o) { return o.state == requeue_outcome::status::requeued; }));
}

TEST_CASE("two operators requeueing at once never duplicate a message") {
  test::redis_server server;
  auto c = test::connect_to(server.url());
  constexpr int n = 1500;
  redis::request fill;
  for (int i = 0; i < n; ++i) {
    const std::string id = "id-" + std::to_string(i);
    fill.push("LPUSH", "celeriac.dead", test::dead_entry_text("unknown_task", "celery", test::message(id, "tag-" + id)));
  }
  c->exec(fill);
  std::size_t requeued[2] = {0, 0};
  auto run = [&](int k) {
    auto own = test::connect_to(server.url());
    for (const auto& o : requeue_dead(*own, dead_filter{}))
      if (o.state == requeue_outcome::status::requeued) ++requeued[k];
  };
  std::thread t1(run, 0), t2(run, 1);
  t1.join();
  t2.join();
  CHECK(requeued[0] + requeued[1] == n);
  const auto queue = lrange(*c, "celery");
  CHECK(queue.size() == n);
  CHECK(std::set<std::string>(queue.begin(), queue.end()).size() == n);
  CHECK(integer(*c, "LLEN", "celeriac.dead") == 0);
}

TEST_CASE("purge: every priority list and the delayed set; never unacked, never bindings") {
  test::redis_server server;
  auto c = test::connect_to(server.url());
  for (const std::string& key : {std::string("celery"), std::string("celery"), std::string("celery\x06\x16") + "6",
                                 std::string("celery\x06\x16") + "9"})
    c->command("LPUSH", key, "m");
  c->command("LPUSH", "csv", "m");
  c->command("ZADD", "celeriac.delayed.celery", 1900000000, "0\nd1", 1900000001, "9\nd2");
  c->command("HSET", "unacked", "t1", R"([{}, "", "celery"])");
  c->command("ZADD", "unacked_index", 1, "t1");
  c->command("SADD", "_kombu.binding.celery", celery::binding_member("celery"));

  auto result = purge_queues(*c, {*broker::queue_name::make("celery")});
  REQUIRE(result.size() == 1);
  CHECK(result[0].waiting == 4);
  CHECK(result[0].delayed == 2);
  for (const auto& list : celery::priority_lists("celery")) CHECK(integer(*c, "LLEN", list) == 0);
  CHECK(integer(*c, "EXISTS", "celeriac.delayed.celery") == 0);
  CHECK(integer(*c, "LLEN", "csv") == 1);
  CHECK(integer(*c, "HLEN", "unacked") == 1);
  CHECK(integer(*c, "ZCARD", "unacked_index") == 1);
  CHECK(integer(*c, "SCARD", "_kombu.binding.celery") == 1);
}

TEST_CASE("queue stats: depth per priority, unacked per routing key over many HSCAN steps, delayed") {
  test::redis_server server;
  auto c = test::connect_to(server.url());
  c->command("LPUSH", "celery", "m1", "m2");
  c->command("LPUSH", std::string("celery\x06\x16") + "9", "m3");
  c->command("LPUSH", "csv", "m4");
  c->command("SADD", "_kombu.binding.celery", celery::binding_member("celery"));
  c->command("SADD", "_kombu.binding.csv", celery::binding_member("csv"));
  c->command("SADD", "_kombu.binding.celery.pidbox", std::string("\x06\x16\x06\x16w@h.celery.pidbox"));
  redis::request unacked;
  for (int i = 0; i < 2500; ++i) {
    const std::string tag = "t" + std::to_string(i);
    const std::string queue = i < 2000 ? "celery" : "llm";
    unacked.push("HSET", "unacked", tag, celery::unacked_entry(test::message(tag, tag, queue), "", queue));
  }
  unacked.push("HSET", "unacked", "odd", R"([{}, "", "we\"ird"])");  // not read by the pattern: cjson
  c->exec(unacked);
  c->command("ZADD", "celeriac.delayed.celery", 2000000000, "0\na", 1900000000.25, "0\nb");
  c->command("ZADD", "celeriac.delayed.retry", 1950000000, "0\nc");

  auto counts = count_unacked(*c);
  CHECK(counts["celery"] == 2000);
  CHECK(counts["llm"] == 500);
  CHECK(counts["we\"ird"] == 1);

  auto stats = read_queue_stats(*c, {});
  std::vector<std::string> names;
  for (const auto& s : stats) names.push_back(s.queue);
  CHECK(names == std::vector<std::string>{"celery", "csv", "llm", "retry", "we\"ird"});
  CHECK(stats[0].waiting_by_step == std::array<std::int64_t, 4>{2, 0, 0, 1});
  CHECK(stats[0].unacked == 2000);
  CHECK(stats[0].delayed == 2);
  CHECK(stats[0].next_due == doctest::Approx(1900000000.25));
  CHECK(stats[1].waiting() == 1);
  CHECK_FALSE(stats[1].next_due);
  CHECK(stats[2].unacked == 500);
  CHECK(stats[3].delayed == 1);

  auto only = read_queue_stats(*c, {*broker::queue_name::make("csv"), *broker::queue_name::make("nothing")});
  REQUIRE(only.size() == 2);
  CHECK(only[0].waiting() == 1);
  CHECK(only[1].waiting() == 0);
}

TEST_CASE("dead list pages through a long list; purge by reason and all") {
  test::redis_server server;
  auto c = test::connect_to(server.url());
  redis::request fill;
  for (int i = 0; i < 1201; ++i)
    fill.push("LPUSH", "celeriac.dead", test::dead_entry_text(i % 2 ? "worker_lost" : "bad_body", "celery",
                                                              test::message("id-" + std::to_string(i), "t")));
  c->exec(fill);
  auto lost = list_dead(*c, dead_filter{"worker_lost", std::nullopt}, 5);
  CHECK(lost.total == 1201);
  CHECK(lost.matched == 600);
  REQUIRE(lost.shown.size() == 5);
  CHECK(lost.shown[0].index == 1);  // the newest (index 0) is i = 1200, a bad_body
  CHECK(lost.shown[0].entry.task_id == "id-1199");
  auto all = list_dead(*c, dead_filter{}, 3);
  CHECK(all.matched == 1201);
  CHECK(all.shown.size() == 3);
  CHECK(list_dead(*c, dead_filter{"decode_error", std::nullopt}, 0).matched == 601);

  CHECK(purge_dead(*c, dead_filter{"worker_lost", std::nullopt}) == 600);
  CHECK(dead_count(*c) == 601);
  CHECK(list_dead(*c, dead_filter{"worker_lost", std::nullopt}, 10).matched == 0);
  CHECK(purge_dead(*c, dead_filter{}) == 601);
  CHECK(dead_count(*c) == 0);
}

TEST_CASE("an error reply becomes redis_failure") {
  test::redis_server server;
  auto c = test::connect_to(server.url());
  c->command("SET", "celeriac.dead", "not a list");
  CHECK_THROWS_AS(dead_count(*c), redis_failure);
  CHECK_THROWS_AS(list_dead(*c, dead_filter{}, 5), redis_failure);
}
