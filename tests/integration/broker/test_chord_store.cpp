// A chord's counter on a real redis-server: joins, second runs, members
// that finish before the size is written, the completion guard, and many
// workers completing one chord at the same moment.

#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "broker/chord_store.hpp"
#include "celery/chord_join.hpp"
#include "integration/redis/run_coro.hpp"
#include "support/redis_server.hpp"

using namespace celeriac;
using boost::asio::awaitable;
using std::chrono::seconds;

namespace {

celery::chord_part part(std::string id, std::optional<std::int64_t> index, std::string state = "SUCCESS",
                        json::value result = 1) {
  return celery::chord_part{"G", std::move(id), index, nullptr, std::move(state), std::move(result)};
}

broker::chord_join_write join_of(const celery::chord_part& p, bool with_meta = false) {
  broker::chord_join_write w{celery::chord_keys_for(p.group_id), p.member(), p.score(), p.member_prefix(), {}};
  if (with_meta) w.meta = broker::result_write{"celery-task-meta-" + p.task_id, "{\"status\": \"" + p.state + "\"}"};
  return w;
}

// One command's reply. (g++ 12: no braced lists or temporaries inside a
// co_await expression, so callers name the command first.)
awaitable<resp::value> run(redis::connection& c, const std::vector<std::string>& command) {
  redis::request req;
  req.push(command.front(), std::vector<std::string>(command.begin() + 1, command.end()));
  auto replies = co_await c.async_exec(req);
  co_return replies.at(0);
}

awaitable<std::int64_t> integer(redis::connection& c, const std::vector<std::string>& command) {
  resp::value v = co_await run(c, command);
  auto n = v.as_integer();
  co_return n ? *n : -999;
}

awaitable<std::string> text(redis::connection& c, const std::vector<std::string>& command) {
  resp::value v = co_await run(c, command);
  co_return v.as_string() ? std::string(*v.as_string()) : std::string("<nil>");
}

awaitable<broker::chord_join_result::status> joined(broker::chord_store& store, const celery::chord_part& p) {
  const broker::chord_join_write w = join_of(p);
  auto r = co_await store.async_join(w);
  co_return r.state;
}

// Runs `body` with a connection to a fresh private Redis and a chord store
// on it (result expiry `ttl`).
void with_store(seconds ttl, const std::function<awaitable<void>(redis::connection&, broker::chord_store&)>& body) {
  test::redis_server server;
  const redis::config cfg = *redis::parse_url(server.url());
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    broker::chord_store store(c, ttl);
    co_await body(c, store);
  });
}

}  // namespace

TEST_CASE("members join in one step with their result; the last one completes the count, in group_index order") {
  with_store(seconds(100), [](redis::connection& c, broker::chord_store& store) -> awaitable<void> {
    const auto keys = celery::chord_keys_for("G");
    {
      const std::vector<std::string> cmd{"SET", keys.size, "2"};
      co_await run(c, cmd);
    }

    const auto w_b = join_of(part("B", 1, "SUCCESS", 4), true);
    auto second = co_await store.async_join(w_b);
    CHECK(second.state == broker::chord_join_result::status::pending);
    {
      const std::vector<std::string> cmd{"GET", "celery-task-meta-B"};
      const auto t = co_await text(c, cmd);
      CHECK(t == "{\"status\": \"SUCCESS\"}");
    }
    {
      const std::vector<std::string> cmd{"TTL", keys.join};
      const auto n = co_await integer(c, cmd);
      CHECK(n > 90);
    }
    {
      const std::vector<std::string> cmd{"TTL", keys.size};
      const auto n = co_await integer(c, cmd);
      CHECK(n > 90);
    }

    const auto w_a = join_of(part("A", 0, "SUCCESS", 2));
    auto first = co_await store.async_join(w_a);
    REQUIRE(first.state == broker::chord_join_result::status::complete);
    CHECK(first.members ==
          std::vector<std::string>{part("A", 0, "SUCCESS", 2).member(), part("B", 1, "SUCCESS", 4).member()});
    CHECK_FALSE(first.saved);
    {
      const std::vector<std::string> cmd{"GET", "celery-task-meta-A"};
      const auto t = co_await text(c, cmd);
      CHECK(t == "<nil>");
    }  // no meta given
  });
}

TEST_CASE("a second run of a member replaces its own member and never counts twice") {
  with_store(seconds(0), [](redis::connection& c, broker::chord_store& store) -> awaitable<void> {
    const auto keys = celery::chord_keys_for("G");
    {
      const std::vector<std::string> cmd{"SET", keys.size, "2"};
      co_await run(c, cmd);
    }

    const json::value boom = json::object{{"exc_type", "RuntimeError"}, {"exc_message", json::array{"boom"}}};
    {
      const auto w = join_of(part("A", 0, "FAILURE", boom));
      co_await store.async_join(w);
    }
    const auto w_again = join_of(part("A", 0, "SUCCESS", 5));
    auto again = co_await store.async_join(w_again);
    CHECK(again.state == broker::chord_join_result::status::pending);
    {
      const std::vector<std::string> cmd{"ZCARD", keys.join};
      const auto n = co_await integer(c, cmd);
      CHECK(n == 1);
    }
    // A stored SUCCESS stays, as a stored SUCCESS result does.
    {
      const auto w = join_of(part("A", 0, "FAILURE", boom));
      co_await store.async_join(w);
    }
    {
      const std::vector<std::string> cmd{"ZCARD", keys.join};
      const auto n = co_await integer(c, cmd);
      CHECK(n == 1);
    }
    {
      const std::vector<std::string> cmd{"TTL", keys.join};
      const auto n = co_await integer(c, cmd);
      CHECK(n == -1);
    }  // result expiry 0: none

    const auto w_done = join_of(part("B", 1));
    auto done = co_await store.async_join(w_done);
    REQUIRE(done.state == broker::chord_join_result::status::complete);
    CHECK(done.members.front() == part("A", 0, "SUCCESS", 5).member());
  });
}

TEST_CASE("members that finish before the size is written count once it is") {
  with_store(seconds(100), [](redis::connection& c, broker::chord_store& store) -> awaitable<void> {
    const auto keys = celery::chord_keys_for("G");
    {
      const auto st = co_await joined(store, part("A", 0));
      CHECK(st == broker::chord_join_result::status::pending);
    }
    {
      const auto st = co_await joined(store, part("B", 1));
      CHECK(st == broker::chord_join_result::status::pending);
    }
    const std::vector<std::pair<std::string, std::string>> sizes{{keys.size, "3"}, {keys.saved, "{\"result\": 1}"}};
    co_await store.async_set_values(sizes);
    {
      const std::vector<std::string> cmd{"TTL", keys.size};
      const auto n = co_await integer(c, cmd);
      CHECK(n > 90);
    }
    const auto w_c = join_of(part("C", std::nullopt));  // scored +inf
    auto done = co_await store.async_join(w_c);
    REQUIRE(done.state == broker::chord_join_result::status::complete);
    CHECK(done.members.size() == 3);
    CHECK(done.saved == std::optional<std::string>("{\"result\": 1}"));

    {
      const std::vector<std::string> cmd{"SET", keys.extra, "1"};
      co_await run(c, cmd);
    }  // Task.add_to_chord: one more member expected
    {
      const auto st = co_await joined(store, part("D", 3));
      CHECK(st == broker::chord_join_result::status::complete);
    }
    {
      const std::vector<std::string> cmd{"SET", keys.extra, "2"};
      co_await run(c, cmd);
    }
    {
      const auto st = co_await joined(store, part("D", 3));
      CHECK(st == broker::chord_join_result::status::pending);
    }
    {
      const std::vector<std::string> cmd{"SET", keys.size, "x"};
      co_await run(c, cmd);
    }
    const auto w_e = join_of(part("E", 4));
    auto bad = co_await store.async_join(w_e);
    CHECK(bad.state == broker::chord_join_result::status::bad_size);
    CHECK(bad.size_text == "x");
  });
}

TEST_CASE("completing a chord is guarded by its size key: the first completer writes, the others do nothing") {
  with_store(seconds(100), [](redis::connection& c, broker::chord_store& store) -> awaitable<void> {
    const auto keys = celery::chord_keys_for("G");
    {
      const std::vector<std::string> cmd{"SET", keys.size, "1"};
      co_await run(c, cmd);
    }
    {
      const auto w = join_of(part("A", 0));
      co_await store.async_join(w);
    }
    {
      const std::vector<std::string> cmd{"SET", "celery-task-meta-KEPT", "{\"status\": \"SUCCESS\", \"result\": 1}"};
      co_await run(c, cmd);
    }

    broker::chord_effects effects;
    effects.values.emplace_back("celery-taskset-meta-H.s", "2");
    effects.metas.push_back({"celery-task-meta-BODY", "{\"status\": \"FAILURE\"}"});
    effects.metas.push_back({"celery-task-meta-KEPT", "{\"status\": \"FAILURE\"}"});
    effects.publishes.push_back({*broker::queue_name::make("celery"), 0, "body"});
    effects.publishes.push_back({*broker::queue_name::make("csv"), 9, "urgent"});
    const bool pending = co_await store.async_pending(keys);
    CHECK(pending);
    const bool fired = co_await store.async_complete(keys, effects);
    CHECK(fired);
    const bool still_pending = co_await store.async_pending(keys);
    CHECK_FALSE(still_pending);
    const bool fired_again = co_await store.async_complete(keys, effects);
    CHECK_FALSE(fired_again);

    {
      const std::vector<std::string> cmd{"EXISTS", keys.join, keys.size, keys.extra};
      const auto n = co_await integer(c, cmd);
      CHECK(n == 0);
    }
    {
      const std::vector<std::string> cmd{"LLEN", "celery"};
      const auto n = co_await integer(c, cmd);
      CHECK(n == 1);
    }
    {
      const std::vector<std::string> cmd{"LLEN",
                                         "csv\x06\x16"
                                         "9"};
      const auto n = co_await integer(c, cmd);
      CHECK(n == 1);
    }
    {
      const std::vector<std::string> cmd{"SISMEMBER", "_kombu.binding.csv",
                                         "csv\x06\x16\x06\x16"
                                         "csv"};
      const auto n = co_await integer(c, cmd);
      CHECK(n == 1);
    }
    {
      const std::vector<std::string> cmd{"GET", "celery-taskset-meta-H.s"};
      const auto t = co_await text(c, cmd);
      CHECK(t == "2");
    }
    {
      const std::vector<std::string> cmd{"TTL", "celery-task-meta-BODY"};
      const auto n = co_await integer(c, cmd);
      CHECK(n > 90);
    }
    {
      const std::vector<std::string> cmd{"GET", "celery-task-meta-KEPT"};
      const auto t = co_await text(c, cmd);
      CHECK(t == "{\"status\": \"SUCCESS\", \"result\": 1}");
    }

    const std::vector<std::string> wanted{"celery-task-meta-BODY", "celery-task-meta-NONE"};
    auto read = co_await store.async_read(wanted);
    REQUIRE(read.size() == 2);
    CHECK(read[0] == std::optional<std::string>("{\"status\": \"FAILURE\"}"));
    CHECK_FALSE(read[1]);
  });
}

TEST_CASE("many workers finishing one chord's members at once send its body exactly once") {
  test::redis_server server;
  const redis::config cfg = *redis::parse_url(server.url());
  constexpr int members = 200;
  constexpr int workers = 4;
  {
    test::run_coro([&](auto ex) -> awaitable<void> {
      redis::connection c(ex, cfg);
      co_await c.async_connect();
      {
        const std::vector<std::string> cmd{"SET", celery::chord_keys_for("G").size, std::to_string(members)};
        co_await run(c, cmd);
      }
    });
  }
  std::atomic<int> completions{0}, sent{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      test::run_coro([&, w](auto ex) -> awaitable<void> {
        redis::connection c(ex, cfg);
        co_await c.async_connect();
        broker::chord_store store(c, seconds(100));
        // Every worker runs its share, and a second run of every member
        // of the next worker's share (redeliveries racing the first runs).
        for (int round = 0; round < 2; ++round)
          for (int i = 0; i < members; ++i) {
            if (i % workers != (w + round) % workers) continue;
            const auto w = join_of(part(std::to_string(i), i));
            auto r = co_await store.async_join(w);
            if (r.state != broker::chord_join_result::status::complete) continue;
            ++completions;
            broker::chord_effects e;
            e.publishes.push_back({*broker::queue_name::make("celery"), 0, "body"});
            const auto keys = celery::chord_keys_for("G");
            const bool fired = co_await store.async_complete(keys, e);
            if (fired) ++sent;
          }
      });
    });
  for (auto& t : threads) t.join();
  CHECK(completions >= 1);
  CHECK(sent == 1);
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    {
      const std::vector<std::string> cmd{"LLEN", "celery"};
      const auto n = co_await integer(c, cmd);
      CHECK(n == 1);
    }
  });
}
