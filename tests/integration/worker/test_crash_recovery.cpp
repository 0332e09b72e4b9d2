// The supervisor's recovery of a dead child's messages, against a real
// redis-server: what the child held goes back to its queue at once, even
// what a fetch of the child took while the recovery ran.

#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/task_registry.hpp"
#include "broker/kombu_transport.hpp"
#include "celery/message_builder.hpp"
#include "celery/message_codec.hpp"
#include "integration/redis/one_command.hpp"
#include "integration/redis/run_coro.hpp"
#include "support/redis_server.hpp"
#include "worker/crash_recovery.hpp"

using namespace celeriac;
using boost::asio::awaitable;

namespace {

std::string envelope(int i) {
  return celery::encode_message(celery::make_task_message("celeriac.add", json::array{i, i}, {}, {}));
}

}  // namespace

TEST_CASE("recovery hands back what a fetch of the dead child took while it was being recovered") {
  test::redis_server server;
  worker::worker_settings settings;
  settings.broker = *redis::parse_url(server.url());
  settings.queues = {*broker::queue_name::make("celery")};
  settings.node_name = "recovery@test";
  const pid_t dead = 999'999;  // no child of this test: only its Redis state matters
  app::task_registry registry;
  std::atomic<std::int64_t> clock{0};

  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, settings.broker);
    co_await c.async_connect();
    broker::transport_config tc{settings.queues, settings.visibility_timeout};
    tc.held_key = settings.held_key(dead);
    broker::kombu_transport child(c, tc);
    for (int i = 0; i < 3; ++i) co_await test::one_command(c, "LPUSH", "celery", envelope(i));
    auto held = co_await child.async_fetch(3);
    REQUIRE(held.size() == 3);

    // The child's wake connection, as it was when the child died: blocked
    // on the main list with a fetch pipelined behind, and Redis has not yet
    // seen the connection close. The first message the recovery puts back
    // serves it, and the fetch takes it into the dead child's held set.
    redis::connection ghost(ex, settings.broker);
    co_await ghost.async_connect();
    broker::kombu_transport ghost_transport(ghost, tc);
    redis::request blocked;
    blocked.push("BLMOVE", "celery", "celery", "RIGHT", "RIGHT", 30);
    ghost_transport.add_fetch(blocked, 3, broker::kombu_transport::fetch_clock::redis);
    boost::asio::co_spawn(
        ex, [&]() -> awaitable<void> { (void)co_await ghost.async_exec(blocked); }, boost::asio::detached);
    for (int i = 0; i < 100; ++i) {
      auto clients = co_await test::one_command(c, "INFO", "clients");
      const auto text = clients.as_string();
      if (text && text->find("blocked_clients:1") != std::string_view::npos) break;
      boost::asio::steady_timer t(ex, std::chrono::milliseconds(10));
      co_await t.async_wait(boost::asio::use_awaitable);
    }

    worker::crash_recovery recovery(settings, registry, clock);
    worker::dead_child d;
    d.pid = dead;
    d.wait_status = SIGKILL;
    REQUIRE(recovery.recover(d));

    auto queued = co_await test::one_command(c, "LLEN", "celery");
    auto unacked = co_await test::one_command(c, "HLEN", "unacked");
    auto index = co_await test::one_command(c, "ZCARD", "unacked_index");
    auto held_set = co_await test::one_command(c, "EXISTS", settings.held_key(dead));
    CHECK(*queued.as_integer() == 3);
    CHECK(*unacked.as_integer() == 0);
    CHECK(*index.as_integer() == 0);
    CHECK(*held_set.as_integer() == 0);
    ghost.close();
  });
}
