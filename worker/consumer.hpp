#pragma once
// One worker child's broker side: fetches messages, holds them, hands
// runnable ones to the executor, and writes outcomes back.
//
// A message's life in a child (each step logged at debug level):
//   1. fetched: popped and recorded in unacked in one Lua step
//   2. decoded: refused ones are dead-lettered, FAILUREd when their id is
//      readable, and acked
//   3. held: waiting for its eta (score kept fresh), or ready
//   4. running on the executor (worker/executor.hpp)
//   5. finished: follow-up messages published (chain step, link callbacks,
//      errbacks, retry), then result + ack written in one step
// At-least-once: a message leaves unacked only in step 5 (or in step 2/3
// when refused or expired), so a child killed anywhere in between leaves
// it to be restored. --acks-early moves the ack to the start of step 4.
//
// All members run on the child's io_context, one handler at a time (its
// handlers run on the executor's two threads in turn, never at once); the
// executor reports back by posting onto it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/task_registry.hpp"
#include "broker/chord_store.hpp"
#include "broker/kombu_transport.hpp"
#include "celery/message_codec.hpp"
#include "celery/task_message.hpp"
#include "broker/pidbox.hpp"
#include "celery/revoked_set.hpp"
#include "limiter/task_rates.hpp"
#include "redis/connection.hpp"
#include "worker/child_slots.hpp"
#include "worker/chord_completion.hpp"
#include "worker/event_stream.hpp"
#include "worker/executor.hpp"
#include "worker/lifecycle_sink.hpp"
#include "worker/time_limits.hpp"
#include "worker/wait_turn.hpp"
#include "worker/worker_settings.hpp"

namespace celeriac::worker {

class consumer {
public:
  consumer(boost::asio::io_context& io, const worker_settings& settings, const app::task_registry& registry,
           int child_index, lifecycle_sink* sink, child_slots& slots);
  ~consumer();

  // Connects and runs until a shutdown completes. Returns the exit code.
  boost::asio::awaitable<int> async_run();

  // Runs the io_context's handlers until it is stopped, on the executor's
  // threads in turn (worker/executor.hpp): call it where io.run() would go.
  void run_io() { executor_->drive(io_); }

  // Warm shutdown: stop fetching, put unstarted messages back, let the
  // running task finish, flush, return from async_run.
  void warm_shutdown();
  // Cold shutdown: put every held message back (the running one too) and
  // return from async_run without waiting for the task.
  void cold_shutdown();
  bool was_cold() const noexcept { return cold_; }

  // Remote control enable_events / disable_events: this child's task
  // events on or off (call it in every child; worker events are sent
  // either way, as Celery's). The first child logs the change.
  void set_events_enabled(bool on);
  bool events_enabled() const noexcept;
  // Remote control `heartbeat`: a worker-heartbeat now (the first child
  // sends it; the others do nothing).
  void request_heartbeat();

private:
  struct held_message {
    std::uint64_t seq = 0;
    broker::queue_name queue;
    std::string tag;
    std::string raw;
    celery::task_message message;
    const app::task_definition* task = nullptr;
    enum class phase { waiting_eta, ready, running } where = phase::ready;
    bool acked_early = false;  // --acks-early: acked when it started
    bool admitted = false;     // passed its task's rate limit (or has none)
  };
  // A held message on its way to its queue's delayed set.
  struct deferral {
    std::string tag;
    broker::queue_name queue;
    int priority = 0;
    std::string raw;
    double due = 0;  // unix seconds
  };
  struct pending_writes {
    std::vector<std::pair<celery::task_message, std::string>> publishes;  // message, envelope
    std::vector<std::string> dead_letters;
    std::vector<deferral> defers;
    std::vector<broker::result_write> results;
    std::vector<std::string> acks;
    // Chords (worker/chord_completion.cpp): sizes and saved headers go
    // before the publishes; header members join before the acks.
    std::vector<std::pair<std::string, std::string>> chord_values;
    std::vector<chord_member_write> chord_parts;
    bool empty() const {
      return publishes.empty() && dead_letters.empty() && defers.empty() && results.empty() && acks.empty() &&
             chord_values.empty() && chord_parts.empty();
    }
  };

  // Coroutines.
  boost::asio::awaitable<void> fetch_loop();
  // How an idle child learns that a message came (worker/consumer_wake.cpp).
  // Sleeps until a wake-up connection sees a message, or the pipelined
  // fetch found more than it could take.
  boost::asio::awaitable<void> idle_until_woken();
  // The main list's wake-up: BLMOVE with the fetch pipelined behind it.
  boost::asio::awaitable<void> wake_fetch_loop();
  // One such exchange for up to `room` messages, dispatched (or handed
  // back when stopping).
  struct wake_fetch_result {
    bool fetched = false;  // the fetch ran and its reply was read
    bool ran_dry = false;  // fewer messages than room
    bool failed = false;   // an error: wait a second before the next
  };
  boost::asio::awaitable<wake_fetch_result> wake_and_fetch(std::size_t room);
  // Makes a pipelined fetch in flight run now (CLIENT UNBLOCK) and waits
  // until its messages are dispatched (or handed back when stopping).
  boost::asio::awaitable<void> finish_wake_fetch();
  // One CLIENT UNBLOCK of the main list's BLMOVE (the fetch behind it
  // then runs at once); nothing when no BLMOVE has been sent yet.
  boost::asio::awaitable<void> unblock_wake_fetch();
  // The main list's turn (worker/consumer_turn.cpp, worker/wait_turn.hpp):
  // takes it while this child would start a message at once, gives it up
  // when not, and waits for it meanwhile.
  boost::asio::awaitable<void> turn_loop();
  bool wants_turn() const;
  // Makes turn_loop look again (the fetcher went idle or busy, a task was
  // handed to the executor or ended, the child stops).
  void poke_turn();
  boost::asio::awaitable<void> give_up_turn();
  boost::asio::awaitable<void> watch_list(std::string list, std::shared_ptr<redis::connection> conn);
  // One wake-up watcher per consumed list but the main one: starts the
  // missing ones, ends those of lists no longer consumed.
  void watch_consumed_lists();
  // Hands fetched messages on (on_fetched), then the ready ones to the
  // executor in one go; hands back those of queues no longer consumed.
  boost::asio::awaitable<void> dispatch_fetched(std::vector<broker::fetched_message>& got);
  // Puts never-started messages back at the front of their queues,
  // untouched, in the order given (so newest first keeps the queue's order).
  boost::asio::awaitable<void> hand_back_tags(const std::vector<std::string>& tags);
  void spawn_loop(boost::asio::awaitable<void> loop, const char* name);
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> write_batch(pending_writes& batch);
  boost::asio::awaitable<void> touch_loop();
  boost::asio::awaitable<void> restore_loop();
  boost::asio::awaitable<void> eta_loop();
  boost::asio::awaitable<void> promote_loop();
  // Moves outcomes the supervisor decided (celeriac.job_outcomes) into the
  // job store (first child, with --database only).
  boost::asio::awaitable<void> job_outcomes_loop();
  // Rate limits: runs of rate-limited tasks wait here until Redis admits
  // them, or go to the delayed set until their slot comes; the run-time
  // limits (`celeriac rate-limit`) are read every couple of seconds.
  boost::asio::awaitable<void> admission_loop();
  boost::asio::awaitable<void> rates_loop();
  // Remote control (Celery's pidbox): revoke (and ping) addressed to this
  // node; revoked ids kept in Redis are loaded at start and every 30 s.
  boost::asio::awaitable<void> control_loop();
  boost::asio::awaitable<void> handle_control(const celery::control_request& req);
  // Replies from the first child only: a node answers once.
  boost::asio::awaitable<void> reply_once(const celery::control_request& req, json::value reply);
  boost::asio::awaitable<void> handle_revoke(const celery::control_request& req, bool terminate_command);
  boost::asio::awaitable<void> handle_gathered(const celery::control_request& req, const std::string& method);
  boost::asio::awaitable<json::value> node_command(const std::string& method, const json::object& args);
  boost::asio::awaitable<json::value> hello_reply(const json::object& args);
  boost::asio::awaitable<void> keep_revoked(const std::vector<std::string>& ids);
  json::value apply_time_limit(const json::object& args);
  boost::asio::awaitable<json::value> apply_rate_limit(const json::object& args);
  boost::asio::awaitable<json::value> change_queues(const std::string& method, const json::object& args);
  json::value pool_change(const std::string& method, const json::object& args);
  // Takes what the node's shared state says that this child has not
  // applied yet (remote time limits, consumed queues): a child started
  // while a broadcast went out missed it.
  void sync_time_limits();
  void sync_queues();
  // The task's options with a remote time_limit applied (in scratch).
  const app::task_options& options_for(const held_message& h, app::task_options& scratch) const;
  boost::asio::awaitable<void> refresh_rates();
  boost::asio::awaitable<void> refresh_rates_after(std::chrono::milliseconds delay);
  // Inspect (worker/consumer_inspect.cpp): commands every child has a part
  // of, this child's part, and the node's reply from all the parts.
  static bool is_gathered(std::string_view method);
  json::value inspect_part(const std::string& method, const json::object& args) const;
  json::value node_reply(const std::string& method, const std::vector<json::value>& parts) const;
  json::value request_info_of(const held_message& h, bool running) const;
  json::value registered_reply() const;
  json::value active_queues_reply() const;
  json::value revoked_reply() const;
  json::value conf_reply() const;
  json::value report_reply() const;
  boost::asio::awaitable<void> revoked_refresh_loop();
  // Applies a revoke: not-started messages with those ids are finished as
  // REVOKED at once; with terminate, the running one is stopped. Returns
  // the ids of running tasks it terminated.
  std::vector<std::string> apply_revoke(const std::vector<std::string>& ids, bool terminate, int signal);
  boost::asio::awaitable<void> terminate_running(std::uint64_t seq, int signal);
  // REVOKED result and ack for a message that will not run.
  void finish_revoked(held_message& h, std::string_view reason);
  // Fair dispatch: while the running task has run long, the unstarted
  // messages this child holds go back to the front of their queues for an
  // idle child, and this one stops fetching until it is free.
  boost::asio::awaitable<void> fair_dispatch_loop();
  boost::asio::awaitable<void> hand_back_unstarted();
  boost::asio::awaitable<void> ensure_connected(redis::connection& conn, std::string_view what);
  boost::asio::awaitable<void> shutdown_sequence(bool cold, std::vector<std::string> tags);
  // Takes the messages a shutdown puts back out of held_ (unstarted and
  // eta-held ones; with include_running, all) and returns their tags in
  // the order to restore them.
  std::vector<std::string> release_held(bool include_running);
  boost::asio::awaitable<void> restore_tags(std::vector<std::string> tags);
  void begin_shutdown(bool cold);

  // Events (worker/consumer_events.cpp): task-* events where Celery's
  // worker sends them, worker-* events from the first child.
  void make_events();
  boost::asio::awaitable<void> events_loop();
  boost::asio::awaitable<void> worker_events_loop();
  boost::asio::awaitable<void> finish_events();
  bool sends_worker_events() const;
  celery::worker_vitals worker_vitals_now();
  void emit_received(const held_message& h);
  void emit_unknown_task(const celery::task_message& m);
  void emit_started(const held_message& h);
  void emit_outcome(const held_message& h, const outcome& o);
  void emit_revoked(const held_message& h, std::string_view reason);

  // Steps of a message's life.
  void on_fetched(broker::fetched_message m);
  void refuse(broker::fetched_message& m, std::string_view reason, const std::string& message,
              const std::optional<std::string>& task_id, std::string_view exc_type, std::string_view exc_module,
              const celery::decode_error* err);
  void make_ready(held_message& h);
  // Sends a fetched message to its queue's delayed set, due at `due`.
  void defer(broker::fetched_message& m, int priority, double due);
  // --max-tasks-per-child / --max-memory-per-child, between tasks.
  void check_recycle();
  // A task began (posted only for acks_early and task events: the job
  // store takes STARTED on the executor thread, see lifecycle_sink).
  void on_started(std::uint64_t seq);
  void on_outcome(outcome o);
  // Queues h's result meta (when not empty) and its ack; forgets h.
  void finish(held_message& h, std::string result_meta_json);
  void add_publish(celery::task_message m);
  // Canvases and chords (worker/chord_completion.cpp).
  void add_publication(celery::canvas_publication p);
  std::optional<celery::chord_part> chord_part_for(const held_message& h, const outcome& o) const;
  std::optional<celery::chord_part> chord_part_revoked(const held_message& h, std::string_view reason) const;
  // Routes h's result meta into its chord's join when `part` is set
  // (returns "", the meta now travels with the join); else returns it.
  std::string join_chord(const held_message& h, std::optional<celery::chord_part> part, std::string meta);
  void fail_unregistered_chord_member(const celery::task_message& m);
  void fail_chain_steps(const held_message& h, const outcome& o);
  broker::chord_store& chords();
  boost::asio::awaitable<void> write_chord_values(const pending_writes& batch);
  boost::asio::awaitable<void> write_chord_parts(const pending_writes& batch, std::size_t& done);
  boost::asio::awaitable<celery::chord_outcome> chord_outcome_of(const broker::chord_join_result& joined);
  broker::chord_effects chord_effects_of(celery::chord_completion& done);
  boost::asio::awaitable<void> complete_chord(const chord_member_write& w, broker::chord_join_result joined);
  void add_result_json(const std::string& task_id, std::string meta);
  bool wants_result(const held_message& h) const;
  std::size_t prefetch_limit() const;
  std::size_t unstarted() const;
  // Whether the wake-up connections should wait on the lists: the fetcher
  // is idle and not paused by fair dispatch.
  bool wake_ups_wanted() const;
  void wake_writer();
  void wake_fetcher();

  boost::asio::io_context& io_;
  const worker_settings& settings_;
  const app::task_registry& registry_;
  int index_;
  lifecycle_sink* sink_;
  child_slots& slots_;  // every child's, and the node's shared state
  child_slot& slot_;   // this child's
  // The broker as this child's fetching and wake-up connections reach it:
  // named for the child, so the supervisor can close them once it is dead
  // (worker/crash_recovery.cpp). Before the connections that use it.
  const redis::config child_broker_;

  redis::connection broker_conn_;
  broker::kombu_transport transport_;
  std::unique_ptr<redis::connection> backend_conn_;  // only when results go to another server
  std::unique_ptr<broker::kombu_transport> backend_transport_;
  std::unique_ptr<broker::chord_store> chords_;  // on the result backend's connection
  std::map<std::string, std::shared_ptr<redis::connection>> watchers_;  // list -> its wake-up connection
  // The main list's wake-up connection, which carries the pipelined fetch.
  struct wake_fetch_state {
    wake_fetch_state(boost::asio::io_context& io, const redis::config& c) : conn(io.get_executor(), c), done(io) {}
    redis::connection conn;
    std::optional<std::int64_t> client_id;  // for CLIENT UNBLOCK
    bool in_flight = false;                 // BLMOVE + fetch sent, reply not yet handled
    std::uint64_t exchanges = 0;            // replies handled so far
    bool last_ran_dry = false;              // the last reply: fewer messages than room
    bool off = false;                       // CLIENT ID refused (e.g. by an ACL): the main list gets a plain watcher
    boost::asio::steady_timer done;         // cancelled: an exchange ended
  };
  wake_fetch_state wake_fetch_;
  wait_turn turn_;
  boost::asio::posix::stream_descriptor turn_signal_;  // this child's dup of the node's eventfd
  boost::asio::steady_timer turn_wake_;                // cancelled: look at the turn again
  std::unique_ptr<executor> executor_;
  std::set<redis::connection*> reconnecting_;

  std::map<std::uint64_t, held_message> held_;
  std::size_t eta_held_ = 0;  // held_ entries in phase waiting_eta
  std::uint64_t next_seq_ = 1;
  using eta_entry = std::pair<util::wall_time, std::uint64_t>;
  std::priority_queue<eta_entry, std::vector<eta_entry>, std::greater<>> eta_queue_;
  pending_writes writes_;
  std::vector<job> ready_jobs_;     // made ready during one fetch's dispatch
  bool in_fetch_dispatch_ = false;
  std::size_t writes_in_flight_ = 0;

  boost::asio::steady_timer fetch_wake_;   // cancelled: fetch loop may proceed
  boost::asio::steady_timer watch_go_;     // cancelled: watchers may block-wait
  boost::asio::steady_timer writer_wake_;  // cancelled: writes are pending
  boost::asio::steady_timer eta_wake_;     // cancelled: eta queue changed
  boost::asio::steady_timer done_wake_;    // cancelled: some state changed
  boost::asio::steady_timer dispatch_wake_;
  boost::asio::steady_timer admission_wake_;  // cancelled: runs wait for admission
  limiter::task_rates rates_;
  celery::revoked_set revoked_;
  std::unique_ptr<broker::pidbox_node> pidbox_;
  std::vector<std::uint64_t> admission_queue_;  // seqs of held messages waiting for admission  // cancelled: jobs were handed to the executor
  bool fetch_idle_ = false;
  bool fetch_paused_ = false;  // handed back its unstarted messages: no fetching until free
  std::uint64_t tasks_done_ = 0;
  time_limit_overrides time_limit_overrides_;  // remote time_limit, by task
  std::uint64_t limits_seen_ = 0;  // node_state::limits_version applied
  std::uint64_t queues_seen_ = 0;  // node_state::queues_version applied
  std::set<std::string> reported_bad_rates_;
  bool stopping_ = false;
  bool cold_ = false;
  bool shutdown_started_ = false;
  bool shutdown_complete_ = false;
  bool failed_ = false;
  std::unique_ptr<event_stream> events_;
  bool node_stopping_ = false;  // SIGTERM/SIGQUIT: the node stops (worker-offline)
  int running_loops_ = 0;
};

}  // namespace celeriac::worker
