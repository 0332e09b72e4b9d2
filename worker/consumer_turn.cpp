// The main list's turn: which idle child of the node waits on the main
// list (worker/wait_turn.hpp has why). This child takes the turn while a
// message it fetched would start at once, and gives it up as soon as it
// would not: the fetcher is busy or paused, the prefetch is full, its task
// has run for turn_kept_while_busy, or it stops. Without the turn and
// wanting it, the child waits for the holder's signal.

#include "worker/consumer.hpp"

#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

#include "util/log.hpp"

#include "worker/consumer_support.hpp"

namespace celeriac::worker {

namespace {

// How long a task may run before its child hands the turn to an idle
// sibling. A shorter task is over before a sibling could take the turn
// (tens of microseconds each way here), so a trickle of short tasks never
// moves it; a message that comes while a long one starts waits at most
// this long for the turn to move (or fair dispatch hands it back).
constexpr milliseconds turn_kept_while_busy{1};

}  // namespace

bool consumer::wants_turn() const {
  if (stopping_ || wake_fetch_.off || !wake_ups_wanted() || unstarted() >= prefetch_limit()) return false;
  const auto since = slot_.running_since();
  return !since || steady_clock::now() - *since < turn_kept_while_busy;
}

void consumer::poke_turn() {
  turn_wake_.cancel();
  turn_signal_.cancel();
}

awaitable<void> consumer::turn_loop() {
  std::uint64_t signal_count = 0;
  bool warned = false;
  while (!stopping_) {
    const bool mine = turn_.held_by(index_);
    const bool wanted = wants_turn();
    if (mine && !wanted) {
      co_await give_up_turn();
      continue;
    }
    if (!mine && wanted) {
      if (turn_.take(index_)) {
        watch_go_.cancel();  // wake_fetch_loop may block on the main list now
        continue;
      }
      // A sibling waits there: wait for it to give the turn up. The read
      // takes a signal already set at once (a give-up just before).
      auto [ec, n] = co_await turn_signal_.async_read_some(asio::buffer(&signal_count, sizeof signal_count),
                                                           wait_token);
      if (ec && ec != asio::error::operation_aborted) {
        // Not expected from an eventfd; without the signal this child
        // still takes a free turn when it looks again, a second later.
        if (!std::exchange(warned, true))
          log::warning("reading the main list's turn signal failed: {}; looking again every second", ec.message());
        turn_wake_.expires_after(std::chrono::seconds(1));
        co_await wait_on(turn_wake_);
        continue;
      }
      // Read, but no longer wanted: pass it on to the next waiting child.
      if (!ec && n > 0 && !wants_turn() && turn_.free()) turn_.signal();
      continue;
    }
    // Holding it while idle or running a short task, or neither holding
    // nor wanting it: look again when that may have changed.
    auto next = steady_clock::now() + std::chrono::seconds(1);
    if (mine) {
      if (const auto since = slot_.running_since())
        next = *since + turn_kept_while_busy;
      else if (executor_->load() > 0)  // handed over, not yet marked running
        next = steady_clock::now() + turn_kept_while_busy;
    }
    turn_wake_.expires_at(next);
    co_await wait_on(turn_wake_);
  }
  turn_.give_up(index_);
}

awaitable<void> consumer::give_up_turn() {
  if (!turn_.give_up(index_)) co_return;
  // A BLMOVE still blocked would be served by the next message, and the
  // fetch behind it would take the message into this child, which would
  // not start it soon: end it now. Its fetch runs at once and finds the
  // lists as empty as they were when it blocked.
  if (wake_fetch_.in_flight) co_await unblock_wake_fetch();
}

}  // namespace celeriac::worker
