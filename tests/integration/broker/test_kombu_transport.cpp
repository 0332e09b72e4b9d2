// The kombu transport against a real redis-server: the layout it leaves is
// kombu's, fetch records atomically, completion never overwrites SUCCESS,
// restore follows kombu's rules.

#include <cmath>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include "broker/kombu_transport.hpp"
#include "broker/lua_scripts.hpp"
#include "celery/kombu_redis.hpp"
#include "celery/message_builder.hpp"
#include "celery/message_codec.hpp"
#include "integration/redis/run_coro.hpp"
#include "json/parse.hpp"
#include "support/redis_server.hpp"
#include "util/clock.hpp"

using namespace celeriac;
using boost::asio::awaitable;

namespace {

broker::queue_name q(std::string_view name) { return *broker::queue_name::make(name); }

std::string envelope(std::string name, json::array args, std::string queue = "celery", int priority = 0) {
  celery::message_options o;
  o.queue = std::move(queue);
  o.priority = priority;
  return celery::encode_message(celery::make_task_message(std::move(name), std::move(args), {}, o));
}

awaitable<resp::value> cmd(redis::connection& c, redis::request req) {
  auto r = co_await c.async_exec(req);
  co_return std::move(r.at(0));
}

template <typename... A>
awaitable<resp::value> run(redis::connection& c, std::string_view name, const A&... args) {
  redis::request req;
  req.push(name, args...);
  co_return co_await cmd(c, std::move(req));
}

struct fixture {
  test::redis_server server;
  redis::config cfg = *redis::parse_url(server.url());
};

}  // namespace

TEST_CASE_FIXTURE(fixture, "fetch pops and records each message in unacked in one step, in kombu's layout") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    std::vector<broker::queue_name> queues{q("celery")};
    broker::kombu_transport t(c, broker::transport_config{queues, std::chrono::seconds(60)});
    co_await t.async_declare();
    auto members = co_await run(c, "SMEMBERS", "_kombu.binding.celery");
    REQUIRE(members.elements()->size() == 1);
    CHECK(*(*members.elements())[0].as_string() == celery::binding_member("celery"));

    std::string a = envelope("celeriac.add", {1, 2});
    std::string b = envelope("celeriac.add", {3, 4});
    co_await run(c, "LPUSH", "celery", a);
    co_await run(c, "LPUSH", "celery", b);
    auto got = co_await t.async_fetch(10);
    REQUIRE(got.size() == 2);
    CHECK(got[0].raw == a);  // FIFO: LPUSH + pop from the right
    CHECK(got[1].raw == b);
    for (auto& m : got) {
      CHECK(m.state == broker::fetched_message::status::held);
      auto decoded = celery::decode_message(m.raw);
      REQUIRE(decoded);
      CHECK(m.tag == decoded->properties.delivery_tag);
      auto entry = co_await run(c, "HGET", "unacked", m.tag);
      CHECK(*entry.as_string() == celery::unacked_entry(m.raw, "", "celery"));
      auto score = co_await run(c, "ZSCORE", "unacked_index", m.tag);
      double s = std::stod(std::string(*score.as_string()));
      CHECK(std::abs(s - util::unix_seconds(util::wall_now())) < 5.0);
    }
    // Within one fetch the scores rise by a microsecond per message, so a
    // restore (newest first, each to the front) puts the batch back in order.
    auto s0 = co_await run(c, "ZSCORE", "unacked_index", got[0].tag);
    auto s1 = co_await run(c, "ZSCORE", "unacked_index", got[1].tag);
    const double step = std::stod(std::string(*s1.as_string())) - std::stod(std::string(*s0.as_string()));
    CHECK(step > 0.5e-6);
    CHECK(step < 1.5e-6);
    auto v1 = co_await run(c, "LLEN", "celery");
    CHECK(*v1.as_integer() == 0);
  });
}

TEST_CASE_FIXTURE(fixture, "fetch serves priority steps in kombu's order and queues round-robin") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    std::vector<broker::queue_name> queues{q("a"), q("b")};
    broker::kombu_transport t(c, broker::transport_config{queues, std::chrono::seconds(60)});
    std::string a9 = envelope("celeriac.noop", {}, "a", 9), a0 = envelope("celeriac.noop", {}, "a", 0);
    std::string b0 = envelope("celeriac.noop", {}, "b", 0), b5 = envelope("celeriac.noop", {}, "b", 5);
    std::vector<std::pair<std::string, std::string>> pushes;
    pushes.emplace_back(celery::queue_for_priority("a", 9), a9);
    pushes.emplace_back("a", a0);
    pushes.emplace_back("b", b0);
    pushes.emplace_back(celery::queue_for_priority("b", 5), b5);
    for (const auto& push : pushes) co_await run(c, "LPUSH", push.first, push.second);
    std::vector<std::string> order;
    for (int i = 0; i < 4; ++i) {
      auto got = co_await t.async_fetch(1);
      REQUIRE(got.size() == 1);
      order.push_back(got[0].raw);
    }
    // Step 0 first (a, then b: round-robin), then step 3 (b5), then step 9 (a9).
    CHECK(order == std::vector<std::string>{a0, b0, b5, a9});
  });
}

TEST_CASE_FIXTURE(fixture, "a message without a readable delivery tag is dead-lettered in the fetch step") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    std::vector<broker::queue_name> queues{q("celery")};
    broker::kombu_transport t(c, broker::transport_config{queues, std::chrono::seconds(60)});
    co_await run(c, "LPUSH", "celery", std::string("this is not json"));
    co_await run(c, "LPUSH", "celery", std::string("{\"no\": \"tag\"}"));
    auto before = util::wall_now();
    auto got = co_await t.async_fetch(10);
    auto after = util::wall_now();
    REQUIRE(got.size() == 2);
    for (auto& m : got) CHECK(m.state == broker::fetched_message::status::dead_lettered);
    auto v2 = co_await run(c, "HLEN", "unacked");
    CHECK(*v2.as_integer() == 0);
    auto dead = co_await run(c, "LRANGE", "celeriac.dead", 0, -1);
    REQUIRE(dead.elements()->size() == 2);
    auto entry = json::parse(*(*dead.elements())[1].as_string());
    REQUIRE(entry);
    CHECK(entry->find("raw")->as_string() == "this is not json");
    CHECK(entry->find("queue")->as_string() == "celery");
    // The time is the fetch's own (the worker's clock), in the worker's format.
    const std::string time = entry->find("time")->as_string();
    CHECK(time.ends_with("+00:00"));
    auto when = util::parse_iso8601(time);
    REQUIRE(when);
    CHECK(*when >= before);
    CHECK(*when <= after);
  });
}

TEST_CASE_FIXTURE(fixture, "the fetch script formats a dead-letter time from the score's clock to the microsecond") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    // As the worker calls it: a score clock and no preformatted time.
    const std::pair<const char*, const char*> cases[] = {
        {"1764979199.999999", "2025-12-05T23:59:59.999999+00:00"},
        {"1709208000.000001", "2024-02-29T12:00:00.000001+00:00"},
        {"1767225600.000000", "2026-01-01T00:00:00+00:00"}};
    for (const auto& [score, expected] : cases) {
      co_await run(c, "DEL", "celeriac.dead");
      co_await run(c, "LPUSH", "celery", std::string("not json"));
      auto reply = co_await run(c, "EVAL", std::string(broker::lua::fetch), 5, "unacked", "unacked_index",
                                "celeriac.dead", "held", "celery", 10, std::string(score), std::string(), 0,
                                "celery");
      REQUIRE_FALSE(reply.is_error());
      auto dead = co_await run(c, "LRANGE", "celeriac.dead", 0, -1);
      REQUIRE(dead.elements()->size() == 1);
      auto entry = json::parse(*(*dead.elements())[0].as_string());
      REQUIRE(entry);
      CHECK(entry->find("time")->as_string() == expected);
    }
  });
}

TEST_CASE_FIXTURE(fixture, "a fetch pipelined behind BLMOVE runs when the message comes and reads Redis's clock") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg), waiter(ex, cfg);
    co_await c.async_connect();
    co_await waiter.async_connect();
    std::vector<broker::queue_name> queues{q("celery")};
    broker::kombu_transport t(c, broker::transport_config{queues, std::chrono::seconds(60)});
    CHECK(t.main_list() == "celery");
    co_await t.async_load_fetch_script();
    std::string good = envelope("celeriac.noop", {});

    // Nothing there: the BLMOVE times out, then the fetch runs and finds nothing.
    redis::request req;
    req.push("BLMOVE", "celery", "celery", "RIGHT", "RIGHT", 1);
    t.add_fetch(req, 4, broker::kombu_transport::fetch_clock::redis);
    auto empty = co_await waiter.async_exec(req);
    CHECK(empty.at(0).is_nil());
    CHECK(t.read_fetch(empty.at(1)).empty());

    // Two messages (one without a delivery tag) pushed while the BLMOVE waits.
    auto before = util::unix_seconds(util::wall_now());
    redis::request blocked;
    blocked.push("BLMOVE", "celery", "celery", "RIGHT", "RIGHT", 5);
    t.add_fetch(blocked, 4, broker::kombu_transport::fetch_clock::redis);
    auto pusher = [&]() -> awaitable<void> {
      boost::asio::steady_timer timer(ex, std::chrono::milliseconds(100));
      co_await timer.async_wait(boost::asio::use_awaitable);
      co_await run(c, "LPUSH", "celery", std::string("not json"), good);
    };
    boost::asio::co_spawn(ex, pusher(), boost::asio::detached);
    auto replies = co_await waiter.async_exec(blocked);
    auto after = util::unix_seconds(util::wall_now());
    CHECK(replies.at(0).is_string());
    auto got = t.read_fetch(replies.at(1));
    // RPOP order: the first pushed comes first.
    REQUIRE(got.size() == 2);
    CHECK(got[0].state == broker::fetched_message::status::dead_lettered);
    REQUIRE(got[1].state == broker::fetched_message::status::held);
    CHECK(got[1].raw == good);
    // The score is when the fetch ran (after the push), not when it was sent.
    auto score = co_await run(c, "ZSCORE", "unacked_index", got[1].tag);
    REQUIRE(score.as_string());
    double s = std::stod(std::string(*score.as_string()));
    CHECK(s >= before + 0.05);
    CHECK(s <= after + 0.05);
    // The dead-letter time is Redis's clock in the worker's own format.
    auto dead = co_await run(c, "LRANGE", "celeriac.dead", 0, -1);
    REQUIRE(dead.elements()->size() == 1);
    auto entry = json::parse(*(*dead.elements())[0].as_string());
    REQUIRE(entry);
    auto when = util::parse_iso8601(entry->find("time")->as_string());
    REQUIRE(when);
    CHECK(std::abs(util::unix_seconds(*when) - s) < 0.01);
    CHECK(entry->find("time")->as_string().ends_with("+00:00"));
    auto left = co_await run(c, "LLEN", "celery");
    CHECK(*left.as_integer() == 0);
  });
}

TEST_CASE_FIXTURE(fixture, "complete stores results, acks, and never overwrites a stored SUCCESS") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    std::vector<broker::queue_name> queues{q("celery")};
    broker::kombu_transport t(c, broker::transport_config{queues, std::chrono::seconds(60)});
    std::string msg1 = envelope("celeriac.add", {1, 2});
    co_await run(c, "LPUSH", "celery", msg1);
    auto got = co_await t.async_fetch(1);
    REQUIRE(got.size() == 1);
    std::string success = R"({"status": "SUCCESS", "result": 3, "traceback": null, "children": [], "date_done": "2026-11-22T00:00:00", "task_id": "x"})";
    std::string failure = R"({"status": "FAILURE", "result": null, "traceback": null, "children": [], "date_done": "2026-11-22T00:00:01", "task_id": "x"})";
    std::vector<broker::result_write> first(1, broker::result_write{"celery-task-meta-x", success});
    std::vector<std::string> tags{got[0].tag};
    co_await t.async_complete(first, tags, std::chrono::seconds(100));
    auto v3 = co_await run(c, "HLEN", "unacked");
    CHECK(*v3.as_integer() == 0);
    auto v4 = co_await run(c, "ZCARD", "unacked_index");
    CHECK(*v4.as_integer() == 0);
    auto ttl_reply = co_await run(c, "TTL", "celery-task-meta-x");
    auto ttl = *ttl_reply.as_integer();
    CHECK((ttl > 90 && ttl <= 100));
    std::vector<broker::result_write> second(1, broker::result_write{"celery-task-meta-x", failure});
    std::vector<std::string> none;
    co_await t.async_complete(second, none, std::chrono::seconds(100));
    auto v5 = co_await run(c, "GET", "celery-task-meta-x");
    CHECK(*v5.as_string() == success);
  });
}

TEST_CASE_FIXTURE(fixture, "restore puts a held message back in front, flagged redelivered, as kombu does") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    std::vector<broker::queue_name> queues{q("celery")};
    broker::kombu_transport t(c, broker::transport_config{queues, std::chrono::seconds(1)});
    std::string first = envelope("celeriac.add", {1, 1}, "celery", 5);  // priority list celery\x06\x163
    co_await run(c, "LPUSH", celery::queue_for_priority("celery", 5), first);
    auto got = co_await t.async_fetch(1);
    REQUIRE(got.size() == 1);
    std::string other = envelope("celeriac.add", {2, 2});
    co_await run(c, "LPUSH", "celery", other);

    // A fresh entry is not restored; touching keeps it fresh.
    auto v6 = co_await t.async_restore_visible();
    CHECK(v6 == 0);
    std::vector<std::string> tags{got[0].tag};
    co_await run(c, "ZADD", "unacked_index", 1, got[0].tag);  // pretend it went stale
    co_await t.async_touch(tags);
    auto v7 = co_await t.async_restore_visible();
    CHECK(v7 == 0);

    co_await run(c, "ZADD", "unacked_index", 1, got[0].tag);
    auto v8 = co_await t.async_restore_visible();
    CHECK(v8 == 1);
    auto v9 = co_await run(c, "HLEN", "unacked");
    CHECK(*v9.as_integer() == 0);
    auto v10 = co_await run(c, "GET", "unacked_mutex");
    CHECK(v10.is_nil());
    // Restored to the base queue (not the priority list), at the front.
    auto next = co_await run(c, "RPOP", "celery");
    auto decoded = celery::decode_message(*next.as_string());
    REQUIRE(decoded);
    CHECK(decoded->redelivered());
    CHECK(decoded->headers.id == celery::decode_message(first)->headers.id);
    CHECK(*next.as_string() == *celery::mark_redelivered(first));

    // Touch never resurrects an acked entry.
    co_await t.async_touch(tags);
    auto v11 = co_await run(c, "ZCARD", "unacked_index");
    CHECK(*v11.as_integer() == 0);
  });
}

TEST_CASE_FIXTURE(fixture, "restore_visible skips while another worker holds unacked_mutex") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    std::vector<broker::queue_name> queues{q("celery")};
    broker::kombu_transport t(c, broker::transport_config{queues, std::chrono::seconds(1)});
    std::string msg2 = envelope("celeriac.noop", {});
    co_await run(c, "LPUSH", "celery", msg2);
    auto got = co_await t.async_fetch(1);
    REQUIRE(got.size() == 1);
    co_await run(c, "ZADD", "unacked_index", 1, got[0].tag);
    co_await run(c, "SET", "unacked_mutex", "someone-else", "PX", 300000);
    auto v12 = co_await t.async_restore_visible();
    CHECK(v12 == 0);
    auto v13 = co_await run(c, "HLEN", "unacked");
    CHECK(*v13.as_integer() == 1);
    auto v14 = co_await run(c, "GET", "unacked_mutex");
    CHECK(*v14.as_string() == "someone-else");
  });
}

TEST_CASE_FIXTURE(fixture, "the held set follows fetch, ack, hand-back and defer in the same steps") {
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    std::vector<broker::queue_name> queues{q("celery")};
    broker::transport_config tc{queues, std::chrono::seconds(60)};
    tc.held_key = "celeriac.held.w@test.42";
    broker::kombu_transport t(c, tc);
    std::string a = envelope("celeriac.add", {1, 1}), b = envelope("celeriac.add", {2, 2}),
                d = envelope("celeriac.add", {3, 3}, "celery", 7);
    co_await run(c, "LPUSH", "celery", a);
    co_await run(c, "LPUSH", "celery", b);
    co_await run(c, "LPUSH", celery::queue_for_priority("celery", 7), d);
    auto got = co_await t.async_fetch(3);
    REQUIRE(got.size() == 3);
    auto held = co_await run(c, "SCARD", tc.held_key);
    CHECK(*held.as_integer() == 3);

    // A crash count is dropped with the ack.
    co_await run(c, "HSET", "celeriac.deliveries", got[0].tag, 2);
    std::vector<std::string> ack{got[0].tag};
    std::vector<broker::result_write> none;
    co_await t.async_complete(none, ack, std::chrono::seconds(10));
    auto v1 = co_await run(c, "SISMEMBER", tc.held_key, got[0].tag);
    CHECK(*v1.as_integer() == 0);
    auto v2 = co_await run(c, "HEXISTS", "celeriac.deliveries", got[0].tag);
    CHECK(*v2.as_integer() == 0);

    // Hand-back: front of the queue, byte for byte, not flagged redelivered.
    bool back = co_await t.async_hand_back(got[1].tag);
    CHECK(back);
    auto front = co_await run(c, "RPOP", "celery");
    CHECK(*front.as_string() == got[1].raw);
    auto v3 = co_await run(c, "SISMEMBER", tc.held_key, got[1].tag);
    CHECK(*v3.as_integer() == 0);

    // Defer: out of unacked and the held set into the delayed set, in one step.
    double now = util::unix_seconds(util::wall_now());
    bool deferred = co_await t.async_defer(got[2].tag, q("celery"), 7, got[2].raw, now + 100);
    CHECK(deferred);
    bool again = co_await t.async_defer(got[2].tag, q("celery"), 7, got[2].raw, now + 100);
    CHECK_FALSE(again);  // no longer ours: nothing moves twice
    auto v4 = co_await run(c, "HLEN", "unacked");
    CHECK(*v4.as_integer() == 0);
    auto v5 = co_await run(c, "SCARD", tc.held_key);
    CHECK(*v5.as_integer() == 0);
    auto v6 = co_await run(c, "ZCARD", "celeriac.delayed.celery");
    CHECK(*v6.as_integer() == 1);

    // Not due yet: nothing moves, and the next due time is reported.
    auto p1 = co_await t.async_promote(now);
    CHECK(p1.moved == 0);
    REQUIRE(p1.next_due);
    CHECK(*p1.next_due == doctest::Approx(now + 100).epsilon(1e-9));
    // Due: back at the front of its priority list, exactly as it was.
    auto p2 = co_await t.async_promote(now + 101);
    CHECK(p2.moved == 1);
    CHECK_FALSE(p2.next_due);
    auto moved = co_await run(c, "RPOP", celery::queue_for_priority("celery", 7));
    CHECK(*moved.as_string() == got[2].raw);
    auto p3 = co_await t.async_promote(now + 102);
    CHECK(p3.moved == 0);
  });
}
