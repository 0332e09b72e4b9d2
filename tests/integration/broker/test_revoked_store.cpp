// celeriac.revoked on a real redis-server: ids with their expiry, the
// later expiry kept, expired ones neither loaded nor kept.

#include <doctest/doctest.h>

#include "broker/revoked_store.hpp"
#include "integration/redis/run_coro.hpp"
#include "support/redis_server.hpp"

using namespace celeriac;
using boost::asio::awaitable;
using std::chrono::seconds;

namespace {

util::wall_time at(int s) { return util::wall_time(seconds(1'800'000'000 + s)); }

}  // namespace

TEST_CASE("revoked ids are stored with their expiry, loaded while alive, dropped once expired") {
  test::redis_server server;
  const redis::config cfg = *redis::parse_url(server.url());
  test::run_coro([&](auto ex) -> awaitable<void> {
    redis::connection c(ex, cfg);
    co_await c.async_connect();
    broker::revoked_store store(c);
    const std::vector<std::string> first{"a", "b"};
    co_await store.async_add(first, at(100));
    const std::vector<std::string> second{"b", "c"};
    co_await store.async_add(second, at(200));
    const std::vector<std::string> shorter{"c"};
    co_await store.async_add(shorter, at(150));  // never shortens a revocation

    auto alive = co_await store.async_load(at(0));
    REQUIRE(alive.size() == 3);
    CHECK(alive[0].expires_at == at(200));  // newest first
    CHECK(alive[2].task_id == "a");
    CHECK(alive[2].expires_at == at(100));

    auto later = co_await store.async_load(at(100));  // "a" expires exactly then
    CHECK(later.size() == 2);
    auto limited = co_await store.async_load(at(0), 1);
    CHECK(limited.size() == 1);

    celery::revoked_set set;
    CHECK(co_await store.async_load_into(set, at(0)) == 3);
    CHECK(set.contains("c", at(199)));
    CHECK_FALSE(set.contains("c", at(200)));

    CHECK(co_await store.async_drop_expired(at(150)) == 1);
    redis::request count;
    count.push("ZCARD", broker::revoked_key);
    auto n = co_await c.async_exec(count);
    CHECK(*n.at(0).as_integer() == 2);
  });
}
