#pragma once
// beat_store: everything beat keeps in Redis, each operation one atomic
// command or Lua script (see beat_keys.hpp for the keys).
//
// The leader lease:
//   acquire  SET lease token NX PX lease_ms (or refresh it if already ours)
//   renew    PEXPIRE only if GET lease == token      (compare-and-set script)
//   release  DEL only if GET lease == token          (compare-and-set script)
// Per-entry state, every write fenced by the lease (a script that finds
// another token in the lease key changes nothing and says so):
//   claim    if last[entry] < tick: LPUSH the message (and SADD the kombu
//            binding) and set last[entry] = tick — in one script, so a tick
//            is never sent twice, even by two instances that both think
//            they lead, and never recorded without its message being pushed
//   sync     read last[entry]; a new entry, or one whose fingerprint
//            changed, starts at `now` (no back-fill)
//   forget   drop the state of entries no longer in the schedule
//
// Errors: a broken connection or a timeout throws what
// connection::async_exec / async_with_timeout throw (system_error); a
// script refused by Redis throws beat_store_error naming the operation and
// the key. Either way the outcome of a write is unknown: re-sync before
// trusting cached state. A claim refused for one tick is reported in its
// result instead, so the others of the pipeline still count.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "redis/connection.hpp"
#include "redis/script.hpp"
#include "scheduler/beat_keys.hpp"

namespace celeriac::scheduler {

class beat_store_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What an acquire attempt found.
struct lease_attempt {
  bool acquired = false;
  std::string holder;                    // the token now in the lease key ("" if none)
  std::chrono::milliseconds holder_ttl{0};  // time left on the holder's lease; -1 ms if it has no expiry
};

// Where an entry's state came from when it was synced.
enum class entry_origin {
  known,    // stored tick with a matching fingerprint: carried on
  added,    // no stored tick: starts at `now`
  changed,  // stored tick of another timing: starts at `now` (or the stored tick, if later)
};

struct entry_sync {
  entry_origin origin = entry_origin::known;
  std::chrono::sys_seconds last;  // last fired tick (or the start point) to plan from
};

// One tick to claim. An empty `message` records the tick as fired without
// sending anything (the `skip` policy).
struct tick_claim {
  std::string entry;
  std::chrono::sys_seconds tick;
  std::string list;            // Redis list to LPUSH to (queue or priority sub-list)
  std::string binding_key;     // "_kombu.binding.<queue>"
  std::string binding_member;  // celery::binding_member(queue)
  std::string message;         // envelope JSON; "" = record only
};

enum class claim_outcome {
  claimed,        // pushed (or recorded) and last[entry] = tick
  already_fired,  // last[entry] >= tick: someone sent it; nothing changed
  not_leader,     // the lease holds another token (or none): nothing changed
  refused,        // Redis returned an error for this claim: nothing known; see error
};

struct claim_result {
  claim_outcome outcome = claim_outcome::refused;
  std::string error;  // Redis' message for `refused`
};

class beat_store {
 public:
  // Operations run on `conn` (which must outlive the store) and each
  // waits at most `timeout`. `token` identifies this instance in the
  // lease key; `lease` is the lease time set on acquire and renew.
  beat_store(redis::connection& conn, beat_keys keys, std::string token, std::chrono::milliseconds lease,
             std::chrono::milliseconds timeout);

  const beat_keys& keys() const noexcept { return keys_; }
  const std::string& token() const noexcept { return token_; }

  // Loads every script into Redis' cache (call after each connect, so the
  // claim pipeline's EVALSHAs find them).
  boost::asio::awaitable<void> async_load_scripts();

  // Takes the lease if it is free (or already ours, refreshing it).
  boost::asio::awaitable<lease_attempt> async_acquire();

  // Extends the lease to `lease` from now if we hold it. Returns false if
  // the key holds another token or none (the lease was lost).
  boost::asio::awaitable<bool> async_renew();

  // Deletes the lease if we hold it; returns whether it did.
  boost::asio::awaitable<bool> async_release();

  // Reads (or starts) one entry's state; nullopt if we do not hold the
  // lease. `now` is where a new or changed entry starts: ticks strictly
  // after it are due.
  boost::asio::awaitable<std::optional<entry_sync>> async_sync(const std::string& entry, const std::string& fingerprint,
                                                               std::chrono::sys_seconds now);

  // Deletes the state of every entry not named in `keep`; returns the
  // names removed, or nullopt if we do not hold the lease.
  boost::asio::awaitable<std::optional<std::vector<std::string>>> async_forget_others(
      const std::vector<std::string>& keep);

  // Claims the ticks in one pipeline, in order; one result per claim.
  boost::asio::awaitable<std::vector<claim_result>> async_claim(const std::vector<tick_claim>& claims);

  // The stored last tick of `entry`, nullopt if none.
  boost::asio::awaitable<std::optional<std::chrono::sys_seconds>> async_read_last(const std::string& entry);

 private:
  // Runs a request of EVALSHAs of script `s` under the timeout; if the
  // first reply is NOSCRIPT, loads `s` and runs it once more.
  boost::asio::awaitable<std::vector<resp::value>> async_exec_scripts(const redis::request& req,
                                                                      const redis::script& s);

  redis::connection& conn_;
  beat_keys keys_;
  std::string token_;
  std::chrono::milliseconds lease_;
  std::chrono::milliseconds timeout_;
};

}  // namespace celeriac::scheduler
