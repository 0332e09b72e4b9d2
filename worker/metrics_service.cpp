#include "worker/metrics_service.hpp"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "broker/delayed.hpp"
#include "celery/kombu_redis.hpp"
#include "http_server/metrics_route.hpp"
#include "http_server/server.hpp"
#include "redis/connection.hpp"
#include "redis/timeout.hpp"
#include "util/log.hpp"
#include "worker/node_exposition.hpp"

namespace celeriac::worker {

namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

// Redis reads at scrape time give up after this: a scrape answers without
// them (celeriac_redis_up 0) rather than make Prometheus time out.
constexpr std::chrono::milliseconds redis_read_limit{500};
constexpr std::chrono::seconds bind_retry{2};
constexpr std::chrono::seconds backlog_period{1};
constexpr std::string_view dead_letter_key = "celeriac.dead";

std::uint64_t count_of(const resp::value& v) {
  auto n = v.as_integer();
  return n && *n > 0 ? static_cast<std::uint64_t>(*n) : 0;
}

// The queues the node consumes now: as add_consumer/cancel_consumer left
// them in the node's shared state, else as configured.
std::vector<std::string> consumed_queues(const worker_settings& s, const child_slots& slots) {
  std::vector<std::string> out;
  if (auto text = slots.node_shared().queues_text()) {
    std::size_t start = 0;
    while (start <= text->size()) {
      const std::size_t end = std::min(text->find('\n', start), text->size());
      if (end > start) out.push_back(text->substr(start, end - start));
      start = end + 1;
    }
    return out;
  }
  for (const auto& q : s.queues) out.push_back(q.str());
  return out;
}

}  // namespace

std::unique_ptr<node_metrics> make_node_metrics(const worker_settings& s, const std::vector<std::string>& task_names,
                                                std::size_t child_slots) {
  if (!s.metrics_port) return nullptr;
  auto table = std::make_unique<node_metrics>(task_names, child_slots);
  node_metrics::install(table.get());
  return table;
}

std::optional<std::string> metrics_port_problem(const worker_settings& s) {
  if (!s.metrics_port) return std::nullopt;
  asio::io_context io;
  try {
    http_server::server probe(io.get_executor(), s.metrics_bind, *s.metrics_port, nullptr);
  } catch (const std::exception& e) {
    return e.what();
  }
  return std::nullopt;
}

// ---- every child: its job store's backlog --------------------------------

struct child_metrics::publisher {
  publisher(asio::io_context& io, node_metrics& t, std::size_t i, const job_store_sink& s)
      : timer(io), table(t), index(i), sink(s) {}
  asio::steady_timer timer;
  node_metrics& table;
  std::size_t index;
  const job_store_sink& sink;
  bool stopped = false;

  static asio::awaitable<void> run(std::shared_ptr<publisher> self) {
    while (!self->stopped) {
      self->table.set_job_store_backlog(self->index, self->sink.stats().pending);
      self->timer.expires_after(backlog_period);
      boost::system::error_code ec;
      co_await self->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
};

// ---- child 1: the endpoint -------------------------------------------------

class child_metrics::endpoint {
public:
  endpoint(const worker_settings& s, const child_slots& slots, node_metrics& table)
      : settings_(s), slots_(slots), table_(table), conn_(io_.get_executor(), redis_config(s)) {
    thread_ = std::thread([this] { run(); });
  }

  ~endpoint() {
    asio::post(io_, [this] {
      if (server_) server_->stop();
      conn_.close();
    });
    io_.stop();
    thread_.join();
  }

private:
  static redis::config redis_config(const worker_settings& s) {
    redis::config cfg = s.broker;
    cfg.client_name = "celeriac-metrics";
    cfg.connect_timeout = redis_read_limit;
    return cfg;
  }

  void run() {
    // Signals are the io thread's business (SIGTERM/SIGQUIT shut the
    // child down): none is delivered here.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    asio::co_spawn(io_, listen(), asio::detached);
    io_.run();
  }

  // Binds, retrying while the port is taken (a previous child 1's socket
  // may linger a moment after it died).
  asio::awaitable<void> listen() {
    bool said = false;
    asio::steady_timer wait(io_);
    while (!server_) {
      std::string failure;
      try {
        server_.emplace(io_.get_executor(), settings_.metrics_bind, *settings_.metrics_port,
                        http_server::metrics_handler([this] { return scrape(); }));
      } catch (const std::exception& e) {
        failure = e.what();
      }
      if (server_) break;
      if (!said) log::error("metrics: {}; retrying every {} s", failure, bind_retry.count());
      said = true;
      wait.expires_after(bind_retry);
      boost::system::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
    server_->start();
    log::info("metrics: serving http://{}:{}/metrics", settings_.metrics_bind, *settings_.metrics_port);
  }

  pool_view read_pool(std::vector<long>& pids) const {
    pool_view pool;
    pool.node_name = settings_.node_name;
    pool.started_unix_ms = slots_.node_shared().started_unix_ms.load();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const long pid = slots_[i].pid.load();
      if (pid <= 0) continue;
      ++pool.children;
      pids.push_back(pid);
      if (slots_[i].running.load() != 0) ++pool.tasks_running;
    }
    return pool;
  }

  asio::awaitable<broker_reads> read_broker(const std::vector<long>& pids) {
    if (!conn_.is_connected()) co_await conn_.async_connect();  // bounded by connect_timeout
    broker_reads out;
    redis::request ping;
    ping.push("PING");
    const auto sent = steady_clock::now();
    auto pinging = conn_.async_exec(ping);
    co_await redis::async_with_timeout(std::move(pinging), redis_read_limit);
    out.roundtrip_seconds = std::chrono::duration<double>(steady_clock::now() - sent).count();

    const std::vector<std::string> queues = consumed_queues(settings_, slots_);
    redis::request req;
    for (const auto& q : queues) {
      for (const auto& list : celery::priority_lists(q)) req.push("LLEN", list);
      req.push("ZCARD", std::string(broker::delayed_prefix) + q);
    }
    req.push("LLEN", dead_letter_key);
    for (long pid : pids) req.push("SCARD", settings_.held_key(pid));
    auto reading = conn_.async_exec(req);
    const std::vector<resp::value> replies = co_await redis::async_with_timeout(std::move(reading), redis_read_limit);
    std::size_t i = 0;
    for (const auto& q : queues) {
      queue_depth d;
      d.queue = q;
      for (std::size_t n = celery::priority_lists(q).size(); n > 0; --n) d.waiting += count_of(replies.at(i++));
      d.delayed = count_of(replies.at(i++));
      out.queues.push_back(std::move(d));
    }
    out.dead_letters = count_of(replies.at(i++));
    for (std::size_t n = pids.size(); n > 0; --n) out.messages_held += count_of(replies.at(i++));
    co_return out;
  }

  asio::awaitable<std::string> scrape() {
    const node_snapshot table = table_.snapshot();
    std::vector<long> pids;
    const pool_view pool = read_pool(pids);
    std::optional<broker_reads> broker;
    std::string failure;
    try {
      auto reading = read_broker(pids);
      broker = co_await std::move(reading);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      log::debug("metrics: Redis reads left out of this scrape: {}", failure);
      conn_.close();  // a timed-out connection may still carry late replies; start afresh next time
    }
    co_return render_node_metrics(table, pool, broker);
  }

  asio::io_context io_{1};  // first: outlives everything that uses it
  const worker_settings& settings_;
  const child_slots& slots_;
  node_metrics& table_;
  redis::connection conn_;
  std::optional<http_server::server> server_;
  std::thread thread_;
};

child_metrics::child_metrics(asio::io_context& io, const worker_settings& s, int index, const child_slots& slots,
                             const job_store_sink* sink) {
  node_metrics* table = node_metrics::installed();
  if (!table) return;
  if (sink) {
    publisher_ = std::make_shared<publisher>(io, *table, static_cast<std::size_t>(index), *sink);
    asio::co_spawn(io, publisher::run(publisher_), asio::detached);
  }
  if (index == 0) endpoint_ = std::make_unique<endpoint>(s, slots, *table);
}

child_metrics::~child_metrics() {
  endpoint_.reset();
  if (publisher_) {
    publisher_->stopped = true;
    publisher_->timer.cancel();
  }
}

}  // namespace celeriac::worker
