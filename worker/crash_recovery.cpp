#include "worker/crash_recovery.hpp"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>

#include "broker/kombu_transport.hpp"
#include "celery/canvas.hpp"
#include "celery/dead_letter.hpp"
#include "celery/kombu_redis.hpp"
#include "celery/message_codec.hpp"
#include "celery/result_meta.hpp"
#include "redis/client_list.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "worker/crash_events.hpp"
#include "worker/event_stream.hpp"
#include "worker/job_outcomes.hpp"
#include "worker/time_limits.hpp"

namespace celeriac::worker {
namespace {

namespace asio = boost::asio;

// Recovery blocks the supervisor's loop: bounded, then retried later.
constexpr std::chrono::seconds recovery_limit{5};

// Runs a coroutine on io until it finishes or the limit passes (then the
// connection is closed, which fails whatever it waits for).
void run_bounded(asio::io_context& io, redis::connection& conn, asio::awaitable<void> task) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  const auto deadline = std::chrono::steady_clock::now() + recovery_limit;
  while (!done) {
    if (io.stopped()) io.restart();
    if (std::chrono::steady_clock::now() >= deadline) {
      conn.close();
      while (!done) {
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(100));
      }
      break;
    }
    io.run_one_for(std::chrono::milliseconds(100));
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

struct crash_recovery::connections {
  redis::sync_client broker;
  std::unique_ptr<redis::sync_client> backend;  // only when results live elsewhere

  explicit connections(const worker_settings& s) : broker(worker_settings::for_supervisor(s.broker)) {
    if (s.result_backend && !s.results_on_broker())
      backend = std::make_unique<redis::sync_client>(worker_settings::for_supervisor(*s.result_backend));
  }
};

crash_recovery::crash_recovery(const worker_settings& settings, const app::task_registry& registry,
                               std::atomic<std::int64_t>& event_clock)
    : settings_(settings),
      registry_(registry),
      event_sender_(node_event_sender(settings.node_name, ::getpid())),
      event_clock_(event_clock) {}

crash_recovery::~crash_recovery() = default;

bool crash_recovery::recover(const dead_child& child) {
  try {
    if (!conns_) conns_ = std::make_unique<connections>(settings_);
    if (!conns_->broker.is_connected()) conns_->broker.connect();
    if (conns_->backend && !conns_->backend->is_connected()) conns_->backend->connect();
    run_recovery(child);
    return true;
  } catch (const std::exception& e) {
    log::error("could not deal with the messages of dead child pid {} yet: {}; retrying (they stay in {} meanwhile)",
               child.pid, e.what(), settings_.held_key(child.pid));
    conns_.reset();
    return false;
  }
}

void crash_recovery::add_event(redis::request& req, std::string_view type, const json::object& fields) {
  const auto m = publication_for(settings_.broker.db, event_sender_, celery::event_routing_key(type),
                                 stamp_node_event(type, event_sender_, event_clock_, fields));
  req.push("PUBLISH", m.channel, m.envelope);
}

// The kernel closed the dead child's sockets, but Redis may not have seen
// it yet: a BLMOVE of the child's still blocked there, with a fetch
// pipelined behind it, would take the next message pushed to that list
// into the child's held set, after this recovery has read and deleted it
// (left to the visibility timeout). Killing the connections first, by the
// name the child gave them, leaves nothing of the child that can run.
// Where CLIENT LIST or KILL is refused (ACLs, renamed commands), the
// recovery goes on without it: the late-fetch sweep below covers what
// lands while it runs.
asio::awaitable<void> crash_recovery::close_connections_of(redis::connection& conn, pid_t pid) {
  redis::request list;
  list.push("CLIENT", "LIST", "TYPE", "normal");
  const auto got = co_await conn.async_exec(list);
  const auto text = got.at(0).as_string();
  if (!text) {
    refused_client_commands(got.at(0));
    co_return;
  }
  const std::vector<std::int64_t> ids = redis::client_ids_named(*text, settings_.child_client_name(pid));
  if (ids.empty()) co_return;
  redis::request kill;
  for (const std::int64_t id : ids) kill.push("CLIENT", "KILL", "ID", id);
  const auto killed = co_await conn.async_exec(kill);
  for (const auto& r : killed)
    if (r.is_error()) {
      refused_client_commands(r);
      co_return;
    }
  log::debug("closed {} Redis connection(s) of dead child pid {}", ids.size(), pid);
}

void crash_recovery::refused_client_commands(const resp::value& reply) {
  if (client_commands_refused_) return;
  client_commands_refused_ = true;
  log::warning("Redis refused CLIENT LIST/KILL ({}): a dead child's connections are not closed before its messages "
               "are recovered, so a fetch it sent just before it died can still take a message until Redis notices "
               "the closed socket (that message then waits for the visibility timeout); grant the worker's user "
               "+client|list and +client|kill to close that window",
               reply.is_error() ? reply.error_message() : "unexpected reply");
}

void crash_recovery::run_recovery(const dead_child& child) {
  redis::connection& conn = conns_->broker.conn();
  broker::transport_config tc{settings_.queues, settings_.visibility_timeout};
  tc.held_key = settings_.held_key(child.pid);
  std::vector<broker::result_write> later_results;
  std::optional<std::string> later_ack;
  std::optional<task_event> event;  // sent once the outcome is in Redis
  auto send_event = [&]() -> asio::awaitable<void> {
    if (!event) co_return;
    redis::request pub;
    add_event(pub, event->type, event->fields);
    co_await conn.async_exec(pub);
  };
  // The tags in the dead child's held set.
  auto held_tags = [&]() -> asio::awaitable<std::vector<std::string>> {
    redis::request members;
    members.push("SMEMBERS", tc.held_key);
    auto got = co_await conn.async_exec(members);
    std::vector<std::string> tags;
    if (auto e = got.at(0).elements())
      for (auto& v : *e)
        if (auto s = v.as_string()) tags.emplace_back(*s);
    co_return tags;
  };
  // Those tags but the one the child was running (dealt with on its own).
  auto unstarted = [&](std::vector<std::string> tags) {
    if (child.running_tag) std::erase(tags, *child.running_tag);
    return tags;
  };
  // Puts these back at the front of their queues, newest first (each goes
  // to the front, so the oldest is served first again, as they were
  // fetched). Returns how many went back.
  auto hand_back = [&](const std::vector<std::string>& tags) -> asio::awaitable<std::size_t> {
    if (tags.empty()) co_return 0;
    broker::kombu_transport t(conn, tc);
    redis::request scores;
    scores.push("ZMSCORE", celery::unacked_index_key, tags);
    auto sc = co_await conn.async_exec(scores);
    std::vector<std::pair<double, std::string>> order;
    auto se = sc.at(0).elements();
    for (std::size_t i = 0; i < tags.size(); ++i) {
      double score = 0;
      if (se && i < se->size())
        if (auto s = (*se)[i].as_string()) score = std::stod(std::string(*s));
      order.emplace_back(score, tags[i]);
    }
    std::sort(order.rbegin(), order.rend());
    std::size_t handed_back = 0;
    for (auto& [score, tag] : order)
      if (co_await t.async_hand_back(tag)) ++handed_back;
    co_return handed_back;
  };
  // Before the held set goes: a fetch the child sent just before it died
  // can still land. Its BLMOVE, blocked until then, is served by a push
  // (the hand-backs here among them) if that comes before Redis has seen
  // the connection close, and the fetch pipelined behind it then records
  // what it takes in this set. Deleting the set with those in it would
  // leave them to the visibility timeout; they go back like the others.
  // Each of the child's connections has at most one such fetch.
  auto forget_held_set = [&]() -> asio::awaitable<void> {
    for (int pass = 0; pass < 8; ++pass) {
      const std::vector<std::string> late = unstarted(co_await held_tags());
      const std::size_t n = co_await hand_back(late);
      if (n == 0) break;
      log::info("put {} message(s) a fetch of the dead child (pid {}) took as it died back at the front of their "
                "queues",
                n, child.pid);
    }
    redis::request del;
    del.push("DEL", tc.held_key);
    co_await conn.async_exec(del);
  };
  auto work = [&]() -> asio::awaitable<void> {
    co_await close_connections_of(conn, child.pid);
    broker::kombu_transport t(conn, tc);
    const std::vector<std::string> tags = co_await held_tags();
    const std::vector<std::string> waiting = unstarted(tags);
    const std::size_t handed_back = co_await hand_back(waiting);
    if (handed_back)
      log::info("put {} message(s) the dead child (pid {}) held but had not started back at the front of their "
                "queues",
                handed_back, child.pid);

    if (child.running_tag &&
        std::find(tags.begin(), tags.end(), *child.running_tag) != tags.end()) {
      const std::string& tag = *child.running_tag;
      redis::request get;
      get.push("HGET", celery::unacked_key, tag);
      if (child.end == child_end::crashed) get.push("HINCRBY", tc.deliveries_key, tag, 1);
      auto r = co_await conn.async_exec(get);
      if (!r.at(0).is_nil()) {
        std::string entry(*r[0].as_string());
        crash_facts facts;
        facts.end = child.end;
        facts.exit_text = billiard_exit_text(child.wait_status);
        facts.crashes = child.end == child_end::crashed && r.size() > 1 && r[1].as_integer()
                            ? static_cast<int>(*r[1].as_integer())
                            : 1;
        facts.max_crashes = settings_.max_crashes;
        facts.requeue_on_crash = settings_.requeue_on_crash;
        facts.hard_limit_seconds = child.hard_limit_seconds;
        const crash_decision d = decide_crash(facts);
        auto parts = celery::parse_unacked_entry(entry);
        auto decoded = parts ? celery::decode_message(parts->payload) : celery::decode_message("");
        const std::string task = decoded ? decoded->headers.task : std::string("?");
        const std::string id = decoded ? decoded->headers.id : std::string("?");
        if (child.task_events && decoded) event = crash_event(d, id, task, child.hard_limit_seconds);
        if (d.what == crash_decision::action::redeliver) {
          log::warning("Task {}[{}] was running when its child (pid {}) died ({}); redelivering it (death {} of at "
                       "most {})",
                       task, id, child.pid, facts.exit_text, facts.crashes, settings_.max_crashes);
          // Announced before it is back in its queue, so that a monitor
          // hears of the rejection before the redelivery's task-received.
          co_await send_event();
          co_await t.async_restore(tag);
        } else {
          log::error("Task {}[{}] raised unexpected: {}('{}')", task, id, d.exc_type, d.exc_message);
          std::vector<broker::result_write> results;
          if (decoded) {
            const auto* def = registry_.find(decoded->headers.task);
            const bool wants = settings_.result_backend && !decoded->headers.ignore_result &&
                               !(def && def->options.ignore_result);
            if (wants) {
              auto meta = child.end == child_end::time_limit
                              ? time_limit_exceeded_meta(id, child.hard_limit_seconds, crash_traceback(task, d),
                                                         celery::meta_context_for(*decoded))
                              : celery::failure_meta(id, d.exc_type, d.exc_message, d.exc_module,
                                                     crash_traceback(task, d), celery::meta_context_for(*decoded));
              results.push_back({fmt::format("celery-task-meta-{}", id), celery::encode_result_meta(meta)});
            }
            if (auto errbacks = celery::errback_messages(*decoded); errbacks) {
              for (auto& eb : *errbacks) {
                auto q = broker::queue_name::make(eb.properties.delivery_info.routing_key);
                if (!q) q = broker::queue_name::make(celery::default_queue);
                const std::string envelope = celery::encode_message(eb);
                co_await t.async_publish(*q, static_cast<int>(eb.properties.priority), envelope);
              }
            }
          }
          if (settings_.database_url && decoded) {
            // For celeriac_jobs: a child with a database connection writes it.
            const std::string outcome = encode_job_outcome(
                {parts ? parts->routing_key : std::string(), "FAILURE",
                 fmt::format("{}: {}", d.exc_type, d.exc_message), parts ? parts->payload : entry});
            redis::request push;
            push.push("LPUSH", job_outcomes_key, outcome);
            co_await conn.async_exec(push);
          }
          if (d.what == crash_decision::action::dead_letter) {
            log::error("Task {}[{}] was running at {} child deaths (--max-crashes {}): dead-lettered to {} as "
                       "worker_lost",
                       task, id, facts.crashes, settings_.max_crashes, tc.dead_letter_key);
            const std::string dead = celery::dead_letter_entry(
                "worker_lost",
                fmt::format("{} (running at {} child deaths)", d.exc_message, facts.crashes),
                parts ? parts->routing_key : std::string(), util::wall_now(), parts ? parts->payload : entry);
            co_await t.async_dead_letter(dead);
          }
          if (conns_->backend) {
            // Results live on another server, driven by its own context:
            // stored there first, then acked here (below).
            later_results = std::move(results);
            later_ack = tag;
            co_return;
          }
          const std::vector<std::string> ack{tag};
          co_await t.async_complete(results, ack, settings_.result_expires);
          co_await send_event();
        }
      }
    }
    co_await forget_held_set();
  };
  run_bounded(conns_->broker.context(), conn, work());
  if (!later_ack) return;
  auto store = [&]() -> asio::awaitable<void> {
    broker::transport_config btc{settings_.queues, settings_.visibility_timeout};
    broker::kombu_transport bt(conns_->backend->conn(), btc);
    static const std::vector<std::string> no_acks;
    co_await bt.async_complete(later_results, no_acks, settings_.result_expires);
  };
  run_bounded(conns_->backend->context(), conns_->backend->conn(), store());
  auto ack = [&]() -> asio::awaitable<void> {
    broker::kombu_transport t(conn, tc);
    static const std::vector<broker::result_write> no_results;
    const std::vector<std::string> tags{*later_ack};
    co_await t.async_complete(no_results, tags, settings_.result_expires);
    co_await send_event();
    co_await forget_held_set();
  };
  run_bounded(conns_->broker.context(), conn, ack());
}

}  // namespace celeriac::worker
