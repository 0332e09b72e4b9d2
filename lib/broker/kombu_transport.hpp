#pragma once
// A kombu-compatible Redis transport (kombu/transport/redis.py, 5.2).
//
// Data layout is kombu's, byte for byte, so Celery workers and celeriac
// workers share queues and restore each other's messages:
//   <queue>, <queue>\x06\x16{3,6,9}   lists; producers LPUSH, consumers pop right
//   _kombu.binding.<queue>            set; "<queue>\x06\x16\x06\x16<queue>"
//   unacked                           hash; tag -> [envelope, exchange, routing_key]
//   unacked_index                     zset; tag -> unix time of delivery (or of
//                                     our last heartbeat: see async_touch)
//   unacked_mutex                     string; held while restoring
// What differs from kombu is how the steps are grouped, never the layout:
//   - fetch pops and records in one Lua step (kombu: BRPOP, then MULTI);
//   - a result meta and the ack of its message are written in one step;
//   - a worker refreshes the unacked_index score of every message it holds,
//     so only messages of dead workers look stale to a restorer.
//
// One transport object serves one connection's worth of commands; it is
// used from one io_context thread (no locking).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "broker/queue_name.hpp"
#include "redis/connection.hpp"
#include "redis/script.hpp"

namespace celeriac::broker {

struct transport_config {
  std::vector<queue_name> queues;  // consumed, in round-robin order
  std::chrono::seconds visibility_timeout{3600};  // kombu's default
  std::string dead_letter_key = "celeriac.dead";
  // The set of delivery tags this consumer holds (celeriac.held.<node>.<pid>),
  // kept by fetch/ack/restore/defer in the same steps, so the supervisor can
  // deal with a dead child's messages at once. Empty: not kept.
  std::string held_key{};
  // Tag -> how many times the message was running when its child died.
  std::string deliveries_key = "celeriac.deliveries";
};

// One message taken off a queue.
struct fetched_message {
  enum class status { held, dead_lettered };
  status state = status::held;
  queue_name queue;
  std::string tag;  // delivery tag (held messages); key in unacked
  std::string raw;  // the envelope exactly as it was in the list
};

// A result meta to store together with acks (see async_complete).
struct result_write {
  std::string key;   // celery-task-meta-<id>
  std::string meta;  // the JSON text
};

class kombu_transport {
public:
  kombu_transport(redis::connection& conn, transport_config config);

  const transport_config& config() const noexcept { return config_; }

  // Consume these queues from now on (remote add_consumer/cancel_consumer).
  // Throws std::invalid_argument for an empty list. Declare them after.
  void set_queues(std::vector<queue_name> queues);

  // Declares the consumed queues (kombu's binding set members) so Celery
  // tools see them. Idempotent.
  boost::asio::awaitable<void> async_declare();

  // Pops up to max messages, serving priority steps in kombu's order and
  // queues round-robin within a step, and records each in unacked in the
  // same atomic step. Returns them in pop order; messages without a
  // readable delivery tag come back as dead_lettered (already stored in
  // the dead-letter list). Throws system_error on I/O failure, in which
  // case nothing was popped that is not recorded.
  boost::asio::awaitable<std::vector<fetched_message>> async_fetch(std::size_t max);

  // async_fetch in two halves, for a fetch pipelined on another connection
  // behind a blocking command (worker/consumer_wake.cpp): add_fetch appends
  // the fetch script's EVALSHA to req; read_fetch reads its reply (throws
  // runtime_error for an error reply, NOSCRIPT included: see
  // async_load_fetch_script). With fetch_clock::redis the script reads the
  // time (the unacked_index score, the dead-letter time) from Redis when it
  // runs, not from this machine when the request is built.
  enum class fetch_clock { client, redis };
  void add_fetch(redis::request& req, std::size_t max, fetch_clock clock) const;
  std::vector<fetched_message> read_fetch(resp::value& reply);
  // Loads the fetch script into Redis's script cache (after NOSCRIPT).
  boost::asio::awaitable<void> async_load_fetch_script();

  // The lists async_fetch pops from, in its current order (for the
  // blocking wake-up connections).
  std::vector<std::string> watched_lists() const;
  // The list most messages come on: the first queue's, priority 0. An idle
  // consumer blocks on it with its fetch pipelined behind.
  std::string main_list() const { return config_.queues.front().str(); }

  // Writes result metas (skipping any whose key holds a SUCCESS) and acks
  // tags, atomically. With ttl 0 metas never expire.
  boost::asio::awaitable<void> async_complete(const std::vector<result_write>& results,
                                              const std::vector<std::string>& tags,
                                              std::chrono::seconds result_ttl);

  // Refreshes the unacked_index score of held tags to now (ZADD XX: an
  // entry acked or restored meanwhile is not resurrected).
  boost::asio::awaitable<void> async_touch(const std::vector<std::string>& tags);

  // Puts a held message back on its queue, flagged redelivered: at the
  // front (kombu's restore_by_tag) or, with to_back, at the back (kombu's
  // reject with requeue). Returns false when the entry was no longer ours.
  boost::asio::awaitable<bool> async_restore(const std::string& tag, bool to_back = false);

  // Puts a message that never started back at the front of its queue
  // exactly as it came (not flagged redelivered): a child handing back its
  // prefetched messages. Returns false when the entry was no longer ours.
  boost::asio::awaitable<bool> async_hand_back(const std::string& tag);

  // Moves a held message into its queue's delayed set, due at `due`
  // (unix seconds). Returns false when the entry was no longer ours.
  boost::asio::awaitable<bool> async_defer(const std::string& tag, const queue_name& queue, int priority,
                                           const std::string& envelope, double due);

  // Moves the delayed messages of the consumed queues that are due by `now`
  // (unix seconds) to the front of their queues. Returns how many moved and
  // the earliest due time still waiting (nullopt: none).
  struct promote_result {
    std::size_t moved = 0;
    std::optional<double> next_due;
  };
  boost::asio::awaitable<promote_result> async_promote(double now, std::size_t max_per_queue = 1000);

  // kombu's restore_visible: under unacked_mutex, restores every unacked
  // entry whose score is older than the visibility timeout. Returns how
  // many were restored (0 when another worker holds the mutex).
  boost::asio::awaitable<std::size_t> async_restore_visible();

  // LPUSHes an envelope to queue at the priority's list (kombu's publish to
  // the anonymous exchange), declaring the queue on first use.
  boost::asio::awaitable<void> async_publish(const queue_name& queue, int priority, const std::string& envelope);

  // Adds a publish of an envelope to a pipeline being built (for
  // publishing follow-up messages together with other writes).
  void add_publish(redis::request& req, const queue_name& queue, int priority, const std::string& envelope);

  // Adds to a pipeline a publish into queue's delayed set instead of its
  // list, due at `due` (unix seconds): a retry with a long countdown.
  void add_delayed_publish(redis::request& req, const queue_name& queue, int priority, const std::string& envelope,
                           double due);

  // Appends an entry to the dead-letter list.
  boost::asio::awaitable<void> async_dead_letter(const std::string& entry);

private:
  std::string held_key_or_placeholder() const;
  // The fetch script's KEYS and ARGV, shared by async_fetch and add_fetch.
  struct script_call {
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };
  script_call fetch_call(std::size_t max, fetch_clock clock) const;
  boost::asio::awaitable<bool> async_move_back(const std::string& tag, bool to_back, bool flag_redelivered);
  boost::asio::awaitable<resp::value> async_run_script(const redis::script& s, const std::vector<std::string>& keys,
                                                       const std::vector<std::string>& args);

  redis::connection& conn_;
  transport_config config_;
  std::size_t rotation_ = 0;  // round-robin start among queues
  std::vector<std::string> declared_;
};

}  // namespace celeriac::broker
