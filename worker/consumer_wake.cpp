// How an idle child learns that a message came.
//
// A child whose last fetch found the lists empty blocks on each list it
// consumes with BLMOVE list list RIGHT RIGHT: a rotation of the list onto
// itself that changes nothing, used only to learn that the list has a
// message, while the fetch itself stays an atomic script (Redis refuses
// blocking commands inside scripts).
//
// On the main list (the first queue's, priority 0: where nearly every
// message comes) the fetch script is pipelined behind the BLMOVE, on the
// same connection: Redis runs it the moment the BLMOVE is served, and the
// message reaches the child in one round trip instead of two. The other
// lists have a plain watcher each, which wakes the fetch loop; the loop
// first makes a pipelined fetch in flight run at once (CLIENT UNBLOCK on
// the main connection) so that two fetches never run together and the
// child never holds more than its prefetch.

#include "worker/consumer.hpp"

#include <algorithm>

#include "util/log.hpp"

#include "worker/consumer_support.hpp"

namespace celeriac::worker {

awaitable<void> consumer::idle_until_woken() {
  for (;;) {
    fetch_idle_ = true;
    watch_go_.cancel();
    poke_turn();
    while (fetch_idle_ && !stopping_) {
      fetch_wake_.expires_after(std::chrono::seconds(1));
      co_await wait_on(fetch_wake_);
      if (steady_clock::now() < fetch_wake_.expiry()) break;  // woken
      sync_queues();
      // A quiet second: fetch once as a safety net, unless the pipelined
      // fetch does that already (its BLMOVE times out every second).
      if (!wake_fetch_.in_flight) break;
    }
    fetch_idle_ = false;
    poke_turn();
    const bool pipelined = wake_fetch_.in_flight;
    const std::uint64_t before = wake_fetch_.exchanges;
    co_await finish_wake_fetch();
    // Woken by another list's watcher, and the pipelined fetch that ran
    // since found every list empty: the message was taken (by that fetch,
    // or by another consumer), so a fetch of our own would find nothing.
    // (Should the fetch have run just before the message came, the
    // watcher sees the message again and wakes us again.)
    const bool taken = pipelined && wake_fetch_.exchanges != before && wake_fetch_.last_ran_dry;
    if (stopping_ || !taken || unstarted() > prefetch_limit() / 2) co_return;
  }
}

awaitable<void> consumer::finish_wake_fetch() {
  while (wake_fetch_.in_flight) {
    // Repeated while in flight: an UNBLOCK that reaches Redis before the
    // BLMOVE does finds nothing to unblock.
    co_await unblock_wake_fetch();
    wake_fetch_.done.expires_after(milliseconds(5));
    co_await wait_on(wake_fetch_.done);
  }
}

awaitable<void> consumer::unblock_wake_fetch() {
  if (!wake_fetch_.client_id) co_return;
  redis::request req;
  req.push("CLIENT", "UNBLOCK", *wake_fetch_.client_id);
  try {
    co_await broker_conn_.async_exec(req);
  } catch (const std::exception& e) {
    log::debug("CLIENT UNBLOCK for the pipelined fetch: {}", e.what());
  }
}

awaitable<void> consumer::wake_fetch_loop() {
  redis::connection& conn = wake_fetch_.conn;
  while (!stopping_ && !wake_fetch_.off) {
    sync_queues();  // the request names the lists: they must be the node's current ones
    const std::size_t held = unstarted();
    const std::size_t room = held < prefetch_limit() ? prefetch_limit() - held : 0;
    // Connected before the turn comes, so that taking it costs no connect.
    if (!conn.is_connected() || !wake_fetch_.client_id) {
      wake_fetch_.client_id.reset();
      co_await ensure_connected(conn, "broker (wake-up and fetch)");
      if (stopping_) break;
      redis::request id;
      id.push("CLIENT", "ID");
      try {
        auto got = co_await conn.async_exec(id);
        if (auto n = got.at(0).as_integer()) {
          wake_fetch_.client_id = *n;
          continue;
        }
        log::warning("Redis refused CLIENT ID ({}): an idle child wakes in two round trips instead of one",
                     got.at(0).is_error() ? got.at(0).error_message() : "not an integer");
        wake_fetch_.off = true;
        watch_consumed_lists();  // the main list gets a plain watcher
      } catch (const std::exception& e) {
        log::debug("wake-up and fetch connection: {}", e.what());
      }
      continue;
    }
    // Only the child with the turn waits here (turn_loop).
    if (!wake_ups_wanted() || room == 0 || !turn_.held_by(index_)) {
      co_await wait_on(watch_go_);
      continue;
    }

    const wake_fetch_result r = co_await wake_and_fetch(room);
    if (stopping_) break;
    // More waiting than there was room for: the fetch loop fetches the rest.
    if (fetch_idle_ && r.fetched && (!r.ran_dry || unstarted() > prefetch_limit() / 2)) {
      fetch_idle_ = false;
      fetch_wake_.cancel();
      poke_turn();
    }
    if (r.failed) {
      asio::steady_timer t(io_);
      co_await sleep_for(t, std::chrono::seconds(1));
    }
  }
}

awaitable<consumer::wake_fetch_result> consumer::wake_and_fetch(std::size_t room) {
  // Whatever happens to this exchange, an exception included, it ends:
  // finish_wake_fetch and the shutdown wait for that.
  struct exchange_end {
    wake_fetch_state& s;
    ~exchange_end() {
      ++s.exchanges;
      s.in_flight = false;
      s.done.cancel();
    }
  };
  const std::string list = transport_.main_list();
  redis::request req;
  req.push("BLMOVE", list, list, "RIGHT", "RIGHT", 1);
  transport_.add_fetch(req, room, broker::kombu_transport::fetch_clock::redis);
  wake_fetch_.in_flight = true;
  wake_fetch_.last_ran_dry = false;
  exchange_end end{wake_fetch_};
  wake_fetch_result r;
  std::vector<broker::fetched_message> got;
  try {
    auto replies = co_await wake_fetch_.conn.async_exec(req);
    if (replies.at(0).is_error()) {
      log::error("waiting on {} failed: {}", list, replies[0].error_message());
      r.failed = true;  // no hurry: the fetch loop's safety net fetches meanwhile
    }
    if (redis::is_noscript(replies.at(1))) {
      co_await transport_.async_load_fetch_script();
    } else {
      got = transport_.read_fetch(replies.at(1));
      r.fetched = true;
    }
  } catch (const boost::system::system_error& e) {
    // Lost with the connection, if the fetch ran: its messages are in this
    // child's held set, which the supervisor hands back when the child
    // ends, or the visibility timeout restores.
    if (!stopping_) log::debug("wake-up and fetch connection: {}", e.what());
    r.failed = true;
  } catch (const std::exception& e) {
    log::error("fetching from the broker failed: {}; retrying in a second", e.what());
    r.failed = true;
  }
  r.ran_dry = got.size() < room;
  if (stopping_) {
    // Shutting down: nothing new starts; what came goes back at once.
    std::vector<std::string> tags;
    for (auto& m : got) {
      if (m.state == broker::fetched_message::status::held)
        tags.push_back(std::move(m.tag));
      else
        on_fetched(std::move(m));  // dead-lettered already: its FAILURE is still written
    }
    co_await restore_tags(std::move(tags));
  } else {
    co_await dispatch_fetched(got);
  }
  wake_fetch_.last_ran_dry = r.fetched && r.ran_dry;
  co_return r;
}

// A watcher ends when its list is no longer consumed (cancel_consumer).
awaitable<void> consumer::watch_list(std::string list, std::shared_ptr<redis::connection> connection) {
  redis::connection& conn = *connection;
  redis::request req;
  req.push("BLMOVE", list, list, "RIGHT", "RIGHT", 1);
  while (!stopping_ && watchers_.count(list)) {
    if (!wake_ups_wanted()) {
      // Several watchers share this timer: its expiry is set once, in the
      // constructor, because setting it would cancel the others' waits.
      co_await wait_on(watch_go_);
      continue;
    }
    if (!conn.is_connected()) {
      co_await ensure_connected(conn, "broker (wake-up)");
      continue;
    }
    try {
      auto replies = co_await conn.async_exec(req);
      if (replies.at(0).is_error()) {
        log::error("waiting on {} failed: {}", list, replies[0].error_message());
        asio::steady_timer t(io_);
        co_await sleep_for(t, std::chrono::seconds(1));
      } else if (!replies[0].is_nil()) {
        // The message stays in the list until the fetch takes it: block
        // again only once the fetcher is idle again, or this BLMOVE would
        // return at once, over and over, while the fetch is under way.
        fetch_idle_ = false;
        fetch_wake_.cancel();
        poke_turn();
      }
    } catch (const std::exception& e) {
      if (!stopping_) log::debug("wake-up connection for {}: {}", list, e.what());
    }
  }
}

void consumer::watch_consumed_lists() {
  auto lists = transport_.watched_lists();
  if (!wake_fetch_.off) std::erase(lists, transport_.main_list());  // wake_fetch_loop's
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if (std::find(lists.begin(), lists.end(), it->first) == lists.end()) {
      it->second->close();
      it = watchers_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& list : lists) {
    if (watchers_.count(list)) continue;
    auto conn = std::make_shared<redis::connection>(io_.get_executor(), child_broker_);
    watchers_.emplace(list, conn);
    spawn_loop(watch_list(list, std::move(conn)), "wake-up");
  }
}

}  // namespace celeriac::worker
