#pragma once
// beat_loop: one `celeriac beat` instance. It stands by until it holds the
// leader lease, then sends each entry's ticks as they fall due, exactly
// once across every instance of the same schedule (see beat_store.hpp for
// the atomic parts and tick_plan.hpp for what a takeover or an outage sends).
//
// One coroutine does everything, in this order each time it wakes:
// 1. reload the schedule file if SIGHUP asked for it or it changed on disk
//    (polled every reload_poll; a file that no longer parses is logged and
//    the running schedule kept);
// 2. connect if needed (then load the scripts, re-sync, renew at once);
// 3. renew the lease (leader) or try to take it (standby) when due: every
//    lease/3, and a standby also right after the holder's lease expires;
// 4. as leader: re-sync entry state if needed (after gaining the lease, a
//    reload or a Redis error), then claim every due tick in one pipeline;
// 5. sleep until the next tick, lease step or file poll, whichever is first.
// A Redis error at any step is logged; the loop closes the connection,
// waits (100 ms doubling to 5 s) and starts over, re-syncing before it
// trusts its cached ticks again, since a write whose reply was lost may or
// may not have happened.
//
// Threading: everything runs on the executor given; stop() and reload()
// must be called from it (e.g. from an asio::signal_set handler).

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "redis/config.hpp"
#include "redis/connection.hpp"
#include "scheduler/beat_keys.hpp"
#include "scheduler/beat_metrics.hpp"
#include "scheduler/beat_store.hpp"
#include "scheduler/schedule_source.hpp"
#include "scheduler/tick_plan.hpp"

namespace celeriac::scheduler {

struct beat_config {
  redis::config broker;                          // where the queues and beat's state live
  std::string name{default_beat_name};           // schedule name: the key prefix celeriac.beat.<name>
  std::chrono::milliseconds lease{10'000};       // lease time; renewed every lease/3
  std::chrono::milliseconds reload_poll{1'000};  // how often the file's mtime is checked
  std::chrono::milliseconds redis_timeout{2'000};  // limit for one Redis operation
  beat_metrics* metrics = nullptr;               // --metrics-port: counts ticks, lag and errors

  // Ticks younger than this are always sent one by one (takeover, restart);
  // older ones follow the entry's `missed` policy. Twice the lease.
  std::chrono::seconds takeover_window() const {
    return std::chrono::ceil<std::chrono::seconds>(2 * lease);
  }
};

class beat_loop {
 public:
  // `entries` is the schedule already loaded from `source` (the caller
  // validated it, so a bad file fails at start-up, not here).
  beat_loop(boost::asio::any_io_executor ex, beat_config cfg, schedule_source source,
            std::vector<schedule_entry> entries);

  // Runs until stop(); then releases the lease if held and returns. Does
  // not throw: an error in a step (Redis unreachable or refusing, a
  // timeout) is logged, the connection reset, and the step retried after
  // the backoff.
  boost::asio::awaitable<void> async_run();

  // Ends async_run after the current step (SIGTERM, SIGINT).
  void stop();
  // Reloads the schedule file at the next step (SIGHUP).
  void reload();

  bool is_leader() const noexcept { return leader_; }
  const std::string& token() const noexcept { return store_.token(); }

 private:
  using steady_time = std::chrono::steady_clock::time_point;

  boost::asio::awaitable<void> async_step();
  boost::asio::awaitable<void> async_lease_step();
  boost::asio::awaitable<void> async_sync();
  boost::asio::awaitable<void> async_fire_due();
  boost::asio::awaitable<void> async_shutdown();
  boost::asio::awaitable<void> async_sleep_until(steady_time t);

  void poll_schedule();
  void log_missed(const schedule_entry& e, const tick_plan& plan) const;
  void step_down(std::string_view why);
  steady_time next_wake() const;

  boost::asio::any_io_executor ex_;
  beat_config cfg_;
  redis::connection conn_;
  beat_store store_;
  schedule_source source_;
  std::vector<schedule_entry> entries_;
  std::map<std::string, std::chrono::sys_seconds> last_;  // entry → last fired tick, valid while !need_sync_

  bool leader_ = false;
  bool need_sync_ = true;
  bool stopping_ = false;
  bool reload_requested_ = false;
  bool connected_once_ = false;  // for telling a lost connection from the first connect
  bool reconnecting_ = false;    // a lost connection was already logged
  steady_time next_lease_{};
  steady_time next_file_check_{};
  std::chrono::milliseconds backoff_;
  std::string holder_seen_;  // last lease holder logged while standing by
  boost::asio::steady_timer timer_;
};

// This instance's lease token: "<hostname>:<pid>:<uuid4>", so `GET
// celeriac.beat.<name>:lease` tells an operator which process leads.
std::string make_instance_token();

}  // namespace celeriac::scheduler
