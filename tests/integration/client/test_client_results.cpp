// app::client's result wait on a private Redis: metas written by other
// Celery-protocol implementations are read as Celery's client reads them,
// and a meta that cannot be read ends the wait at once with the reason
// instead of after the timeout.

#include "app/client.hpp"
#include "redis/connection.hpp"
#include "support/redis_server.hpp"
#include "../redis/run_coro.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace celeriac;
using asio::awaitable;
using celeriac::test::run_coro;

namespace {

constexpr auto long_wait = std::chrono::milliseconds(30'000);
// Far below long_wait: proves the wait did not run to its timeout.
constexpr auto fast_enough = std::chrono::seconds(5);

// celery-node 0.5.9's RedisBackend.storeResult for add(2, 3).
constexpr std::string_view node_success =
    R"({"status":"SUCCESS","result":5,"traceback":5,"children":[],"task_id":"ID",)"
    R"("date_done":"2026-11-22T01:49:37.421Z"})";

std::string meta_key(std::string_view id) { return "celery-task-meta-" + std::string(id); }

awaitable<void> store(redis::config cfg, std::string key, std::string value, bool publish,
                      std::chrono::milliseconds after) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, after);
  co_await timer.async_wait(asio::use_awaitable);
  redis::connection conn(ex, cfg);
  co_await conn.async_connect();
  redis::request req;
  req.push("SET", key, value);
  if (publish) req.push("PUBLISH", key, value);
  co_await conn.async_exec(req);
  conn.close();
}

// What async_wait_result ended with: a meta, nothing, or an unreadable_result.
struct wait_outcome {
  std::optional<celery::result_meta> meta;
  std::optional<std::string> unreadable;
  std::optional<std::string> key;
  std::chrono::steady_clock::duration took{};
};

awaitable<wait_outcome> wait_for(redis::config cfg, std::string id) {
  auto ex = co_await asio::this_coro::executor;
  app::client client(ex, cfg);
  co_await client.async_connect();
  wait_outcome out;
  auto start = std::chrono::steady_clock::now();
  try {
    out.meta = co_await client.async_wait_result(id, long_wait);
  } catch (const app::unreadable_result& e) {
    out.unreadable = e.what();
    out.key = e.key();
  }
  out.took = std::chrono::steady_clock::now() - start;
  client.close();
  co_return out;
}

// Stores `value` for task `id` (published too when `publish`) 200 ms into
// a wait for it, and returns how the wait ended.
wait_outcome wait_while_storing(const test::redis_server& server, std::string id, std::string value,
                                bool publish = true) {
  const auto cfg = *redis::parse_url(server.url());
  wait_outcome out;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    asio::co_spawn(ex, store(cfg, meta_key(id), std::move(value), publish, 200ms), asio::detached);
    out = co_await wait_for(cfg, id);
  });
  return out;
}

wait_outcome wait_after_storing(const test::redis_server& server, std::string id, std::string value) {
  const auto cfg = *redis::parse_url(server.url());
  wait_outcome out;
  run_coro([&](asio::any_io_executor) -> awaitable<void> {
    co_await store(cfg, meta_key(id), std::move(value), false, 0ms);
    out = co_await wait_for(cfg, id);
  });
  return out;
}

std::string node_meta(std::string_view id) {
  std::string text(node_success);
  text.replace(text.find("ID"), 2, id);
  return text;
}

}  // namespace

TEST_CASE("a celery-node worker's result is read, stored before the wait or published during it") {
  test::redis_server server;
  auto stored = wait_after_storing(server, "n1", node_meta("n1"));
  REQUIRE(stored.meta);
  CHECK(stored.meta->status == "SUCCESS");
  CHECK(stored.meta->result == json::value(5));
  CHECK(stored.meta->done_at());

  auto published = wait_while_storing(server, "n2", node_meta("n2"));
  REQUIRE(published.meta);
  CHECK(published.meta->result == json::value(5));
  CHECK(published.took < fast_enough);
}

TEST_CASE("interim states are skipped until a ready one comes") {
  test::redis_server server;
  const auto cfg = *redis::parse_url(server.url());
  wait_outcome out;
  run_coro([&](asio::any_io_executor ex) -> awaitable<void> {
    asio::co_spawn(ex, store(cfg, meta_key("p"), R"({"status": "PROGRESS", "result": {"done": 1}})", true, 100ms),
                   asio::detached);
    asio::co_spawn(ex, store(cfg, meta_key("p"), R"({"status": "RETRY", "traceback": 3})", true, 200ms),
                   asio::detached);
    asio::co_spawn(ex, store(cfg, meta_key("p"), R"({"status": "FAILURE", "traceback": "boom"})", true, 300ms),
                   asio::detached);
    out = co_await wait_for(cfg, "p");
  });
  REQUIRE(out.meta);
  CHECK(out.meta->status == "FAILURE");
  CHECK(celery::failure_summary(*out.meta) == "FAILURE: boom");
}

TEST_CASE("a result that cannot be read ends the wait at once, naming the key and the fault") {
  test::redis_server server;
  SUBCASE("already stored when the wait starts") {
    auto out = wait_after_storing(server, "b1", "not json");
    REQUIRE(out.unreadable);
    CHECK(out.key == meta_key("b1"));
    CHECK(out.unreadable->find("celery-task-meta-b1") != std::string::npos);
    CHECK(out.unreadable->find("not JSON") != std::string::npos);
    CHECK(out.took < fast_enough);
  }
  SUBCASE("published during the wait") {
    auto out = wait_while_storing(server, "b2", R"({"result": 5, "task_id": "b2"})");
    REQUIRE(out.unreadable);
    CHECK(out.key == meta_key("b2"));
    CHECK(out.unreadable->find("'status' = <missing>") != std::string::npos);
    CHECK(out.took < fast_enough);
  }
  SUBCASE("a status that is no string, published") {
    auto out = wait_while_storing(server, "b3", R"({"status": 1})");
    REQUIRE(out.unreadable);
    CHECK(out.unreadable->find("'status' = 1") != std::string::npos);
    CHECK(out.took < fast_enough);
  }
}
