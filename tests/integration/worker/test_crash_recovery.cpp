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
#include <boost/asio/this_coro.hpp>
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

worker::worker_settings settings_for(const test::redis_server& server, std::string node) {
  worker::worker_settings settings;
  settings.broker = *redis::parse_url(server.url());
  settings.queues = {*broker::queue_name::make("celery")};
  settings.node_name = std::move(node);
  return settings;
}

broker::transport_config child_config(const worker::worker_settings& settings, pid_t pid) {
  broker::transport_config tc{settings.queues, settings.visibility_timeout};
  tc.held_key = settings.held_key(pid);
  return tc;
}

// Where the messages are: waiting in the queue, in kombu's unacked hash,
// in the dead child's held set.
struct placement {
  std::int64_t queued = 0;
  std::int64_t unacked = 0;
  std::int64_t held = 0;
};

awaitable<placement> placement_of(redis::connection& c, const worker::worker_settings& settings, pid_t pid) {
  placement p;
  p.queued = *(co_await test::one_command(c, "LLEN", "celery")).as_integer();
  p.unacked = *(co_await test::one_command(c, "HLEN", "unacked")).as_integer();
  p.held = *(co_await test::one_command(c, "SCARD", settings.held_key(pid))).as_integer();
  co_return p;
}

// What the supervisor does when child `pid` dies of SIGKILL between tasks.
bool recover_killed(const worker::worker_settings& settings, pid_t pid) {
  app::task_registry registry;
  std::atomic<std::int64_t> clock{0};
  worker::crash_recovery recovery(settings, registry, clock);
  worker::dead_child d;
  d.pid = pid;
  d.wait_status = SIGKILL;
  return recovery.recover(d);
}

// A dead child's wake connection as Redis may still hold it: blocked on
// the main list with a fetch pipelined behind. *ended turns true once the
// connection has been answered or closed.
void block_with_fetch(boost::asio::any_io_executor ex, redis::connection& ghost, const broker::transport_config& tc,
                      bool* ended) {
  auto blocked = std::make_shared<redis::request>();
  blocked->push("BLMOVE", "celery", "celery", "RIGHT", "RIGHT", 30);
  broker::kombu_transport(ghost, tc).add_fetch(*blocked, 3, broker::kombu_transport::fetch_clock::redis);
  boost::asio::co_spawn(
      ex,
      [&ghost, blocked, ended]() -> awaitable<void> {
        try {
          (void)co_await ghost.async_exec(*blocked);
        } catch (const std::exception&) {
        }
        *ended = true;
      },
      boost::asio::detached);
}

// Waits until Redis counts `n` blocked clients.
awaitable<void> until_blocked(redis::connection& c, int n) {
  const std::string want = "blocked_clients:" + std::to_string(n);
  for (int i = 0; i < 200; ++i) {
    auto clients = co_await test::one_command(c, "INFO", "clients");
    const auto text = clients.as_string();
    if (text && text->find(want) != std::string_view::npos) co_return;
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(10));
    co_await t.async_wait(boost::asio::use_awaitable);
  }
  FAIL("Redis never counted " << want);
}

}  // namespace

TEST_CASE("recovery hands back what a fetch of the dead child took while it was being recovered") {
  test::redis_server server;
  const worker::worker_settings settings = settings_for(server, "recovery@test");
  const pid_t dead = 999'999;

  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, settings.broker);
    co_await c.async_connect();
    const broker::transport_config tc = child_config(settings, dead);
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
    bool ghost_ended = false;
    block_with_fetch(ex, ghost, tc, &ghost_ended);
    co_await until_blocked(c, 1);

    REQUIRE(recover_killed(settings, dead));

    const placement p = co_await placement_of(c, settings, dead);
    CHECK(p.queued == 3);
    CHECK(p.unacked == 0);
    CHECK(p.held == 0);
    auto index = co_await test::one_command(c, "ZCARD", "unacked_index");
    CHECK(*index.as_integer() == 0);
    ghost.close();
  });
}

TEST_CASE("recovery closes the dead child's connections: a fetch it left blocked takes nothing pushed after") {
  test::redis_server server;
  // A space in the node name: the client name has '_' for it.
  const worker::worker_settings settings = settings_for(server, "recovery closes@test");
  const pid_t dead = 999'998;

  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, settings.broker);
    co_await c.async_connect();
    const broker::transport_config tc = child_config(settings, dead);
    broker::kombu_transport child(c, tc);
    auto first = co_await child.async_fetch(3);  // the child's first fetch loaded the script
    REQUIRE(first.empty());

    // The idle child's wake connection, named as the child names it, still
    // open in Redis: blocked on the main list with a fetch behind. The child
    // held nothing, so the recovery hands nothing back that would serve it.
    redis::connection ghost(ex, settings.child_broker(dead));
    co_await ghost.async_connect();
    bool ghost_ended = false;
    block_with_fetch(ex, ghost, tc, &ghost_ended);
    co_await until_blocked(c, 1);

    REQUIRE(recover_killed(settings, dead));  // the kill has run in Redis when it returns

    // A message sent after the recovery stays queued for a live worker.
    co_await test::one_command(c, "LPUSH", "celery", envelope(7));
    boost::asio::steady_timer settle(ex, std::chrono::milliseconds(100));
    co_await settle.async_wait(boost::asio::use_awaitable);
    const placement p = co_await placement_of(c, settings, dead);
    CHECK(p.queued == 1);
    CHECK(p.unacked == 0);
    CHECK(p.held == 0);
    auto names = co_await test::one_command(c, "CLIENT", "LIST");
    CHECK(std::string(*names.as_string()).find("celeriac-child:recovery_closes@test:999998") == std::string::npos);
    CHECK(ghost_ended);
    ghost.close();
  });
}

TEST_CASE("where ACLs refuse CLIENT LIST, recovery still hands back what the dead child held") {
  test::redis_server server;
  const worker::worker_settings settings = settings_for(server, "recovery-acl@test");
  const pid_t dead = 999'997;

  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, settings.broker);
    co_await c.async_connect();
    co_await test::one_command(c, "ACL", "SETUSER", "worker", "on", ">secret", "~*", "&*", "+@all", "-client");
    const broker::transport_config tc = child_config(settings, dead);
    broker::kombu_transport child(c, tc);
    for (int i = 0; i < 2; ++i) co_await test::one_command(c, "LPUSH", "celery", envelope(i));
    auto held = co_await child.async_fetch(2);
    REQUIRE(held.size() == 2);

    worker::worker_settings limited = settings;
    limited.broker.username = "worker";
    limited.broker.password = "secret";
    REQUIRE(recover_killed(limited, dead));
    const placement p = co_await placement_of(c, settings, dead);
    CHECK(p.queued == 2);
    CHECK(p.unacked == 0);
    CHECK(p.held == 0);
  });
}
