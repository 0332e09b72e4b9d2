#include "redis/connection.hpp"

#include "redis/error.hpp"
#include "redis/timeout.hpp"
#include "resp/parser.hpp"

#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using boost::system::system_error;

namespace celeriac::redis {
namespace detail {

// ===========================================================================
// Session internals: one socket, its reader and writer, its queues
// ===========================================================================

// Channels and patterns the server confirmed, kept across sessions so a
// reconnect can subscribe again.
struct subscriptions {
  std::set<std::string> channels;
  std::set<std::string> patterns;
  std::size_t count() const noexcept { return channels.size() + patterns.size(); }
  void clear() noexcept {
    channels.clear();
    patterns.clear();
  }
};

namespace {

constexpr auto never = std::chrono::steady_clock::time_point::max();

// A request waiting for its replies. It lives in the frame of exec(); the
// session only holds pointers to it, removed by abandon() if the caller
// leaves early.
struct pending_op {
  pending_op(const asio::any_io_executor& ex, const request& r) : req(r), wake(ex, never) {
    replies.reserve(r.expected_replies());
  }
  const request& req;
  std::vector<resp::value> replies;
  error_code ec;      // set with done when the session fails
  bool done = false;  // replies complete, or ec set
  asio::steady_timer wake;  // cancelled to resume the waiting caller
};

// Replies still owed to one written request, in write order.
struct reply_slot {
  pending_op* op;  // nullptr once the caller gave up: replies are discarded
  std::size_t remaining;
  bool pubsub;  // replies are (un)subscribe confirmations
};

// Drops the source location Boost attaches to Asio's error codes, which
// would otherwise print "[system:111 at /usr/include/boost/asio/...]" in
// every log line about a lost connection.
error_code without_location(error_code ec) noexcept {
  return ec ? error_code(ec.value(), ec.category()) : ec;
}

// Logs the death of a background loop; they catch their own errors, so
// this only fires on a bug.
void log_loop_exit(std::exception_ptr e, const char* loop) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    fmt::print(stderr, "celeriac.redis: {} loop ended by an exception: {}\n", loop, x.what());
  } catch (...) {
    fmt::print(stderr, "celeriac.redis: {} loop ended by an unknown exception\n", loop);
  }
}

// Turns a "message"/"pmessage"/"smessage" frame into a push_message.
std::optional<push_message> to_message(resp::value& v) {
  auto elements = v.elements();
  if (!elements || elements->size() < 3 || !(*elements)[0].is_string()) return std::nullopt;
  auto& e = *elements;
  const std::string_view kind = e[0].text();
  if ((kind == "message" || kind == "smessage") && e.size() == 3) {
    return push_message{e[1].take_text(), {}, e[2].take_text()};
  }
  if (kind == "pmessage" && e.size() == 4) {
    return push_message{e[2].take_text(), e[1].take_text(), e[3].take_text()};
  }
  return std::nullopt;
}

}  // namespace

// Where a session's socket reads land. Its bytes are left uninitialised
// (a vector would zero them): a worker child holds several connections
// and an idle one reads a few hundred bytes, so only the pages reads
// reach become resident instead of all 64 KiB of each. Growing drops the
// contents: the parser copies whatever it keeps before the next read.
class read_buffer {
 public:
  explicit read_buffer(std::size_t size) { replace(size); }

  std::size_t size() const noexcept { return size_; }
  asio::mutable_buffer space() noexcept { return {bytes_.get(), size_}; }
  // The first `n` bytes of the last read.
  std::string_view first(std::size_t n) const noexcept { return {bytes_.get(), n}; }
  void replace(std::size_t size) {
    bytes_ = std::make_unique_for_overwrite<char[]>(size);
    size_ = size;
  }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_ = 0;
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(asio::any_io_executor ex, const config& cfg, std::shared_ptr<subscriptions> subs)
      : message_ready(ex, never),
        ex_(ex),
        where_(to_string(cfg)),
        read_buffer_max_(std::max(cfg.read_buffer_max, cfg.read_buffer_size)),
        socket_(ex),
        write_signal_(ex, never),
        subs_(std::move(subs)),
        read_buffer_(std::max<std::size_t>(cfg.read_buffer_size, 512)) {}

  const asio::any_io_executor& executor() const noexcept { return ex_; }
  tcp::socket& socket() noexcept { return socket_; }
  // The URL (without password) for messages.
  const std::string& where() const noexcept { return where_; }
  bool is_open() const noexcept { return open_; }
  // Why the session is not open (error::not_connected before start()).
  error_code failure() const noexcept { return failure_; }

  // Starts the reader and writer on the connected socket.
  void start() {
    open_ = true;
    failure_.clear();
    asio::co_spawn(ex_, read_loop(shared_from_this()),
                   [](std::exception_ptr e) { log_loop_exit(e, "reader"); });
    asio::co_spawn(ex_, write_loop(shared_from_this()),
                   [](std::exception_ptr e) { log_loop_exit(e, "writer"); });
  }

  // Breaks the session: closes the socket and completes every waiting
  // request and receiver with `ec`. Only the first failure counts.
  void fail(error_code ec) noexcept {
    ec = without_location(ec);
    if (!open_) {
      if (!failure_ || failure_ == error::not_connected) failure_ = ec;
      return;
    }
    open_ = false;
    failure_ = ec;
    error_code ignored;
    socket_.close(ignored);
    write_signal_.cancel();
    message_ready.cancel();
    for (pending_op* op : write_queue_) finish(*op, ec);
    for (reply_slot& slot : read_queue_) {
      if (slot.op != nullptr) finish(*slot.op, ec);
    }
    write_queue_.clear();
    read_queue_.clear();
  }

  // Queues `op` for the writer.
  void enqueue(pending_op& op) {
    write_queue_.push_back(&op);
    write_signal_.cancel();
  }

  // Forgets `op`, whose caller stopped waiting: dropped if not yet
  // written, otherwise its replies will be read and discarded.
  void abandon(pending_op& op) noexcept {
    if (auto it = std::find(write_queue_.begin(), write_queue_.end(), &op); it != write_queue_.end()) {
      write_queue_.erase(it);
      return;
    }
    for (reply_slot& slot : read_queue_) {
      if (slot.op == &op) slot.op = nullptr;
    }
  }

  // Pub/sub messages not yet received, and the signal a receiver waits on.
  std::deque<push_message> messages;
  asio::steady_timer message_ready;
  bool receiving = false;

 private:
  static void finish(pending_op& op, error_code ec) noexcept {
    op.ec = ec;
    op.done = true;
    op.wake.cancel();
  }

  // Writes queued requests, all that accumulated during the previous
  // write in one buffer, until the session fails.
  static awaitable<void> write_loop(std::shared_ptr<session> self) {
    std::string buffer;
    while (self->open_) {
      if (self->write_queue_.empty()) {
        co_await self->write_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      buffer.clear();
      for (pending_op* op : self->write_queue_) {
        buffer.append(op->req.payload());
        self->read_queue_.push_back(
            reply_slot{op, op->req.expected_replies(), op->req.has_pubsub()});
      }
      self->write_queue_.clear();
      auto [ec, n] = co_await asio::async_write(self->socket_, asio::buffer(buffer),
                                                asio::as_tuple(asio::use_awaitable));
      if (ec) {
        self->fail(ec);
        co_return;
      }
      // Keep a moderate buffer for reuse; give back what one huge pipeline took.
      if (buffer.capacity() > 4 * 1024 * 1024) std::string{}.swap(buffer);
    }
  }

  // Reads and parses replies and routes each to its request or to the
  // message queue, until the session fails.
  static awaitable<void> read_loop(std::shared_ptr<session> self) {
    read_buffer& buf = self->read_buffer_;
    for (;;) {
      auto [ec, n] = co_await self->socket_.async_read_some(buf.space(),
                                                            asio::as_tuple(asio::use_awaitable));
      if (!self->open_) co_return;
      if (ec) {
        self->fail(ec);
        co_return;
      }
      try {
        std::string_view in = buf.first(n);
        while (!in.empty()) {
          error_code parse_ec;
          auto v = self->parser_.parse(in, parse_ec);
          if (parse_ec) {
            self->fail(parse_ec);
            co_return;
          }
          if (!v) break;
          if (!self->dispatch(std::move(*v))) co_return;
        }
      } catch (const std::bad_alloc&) {
        self->fail(make_error_code(boost::system::errc::not_enough_memory));
        co_return;
      }
      // A full buffer means more is waiting: read bigger chunks.
      if (n == buf.size() && buf.size() < self->read_buffer_max_) {
        buf.replace(std::min(buf.size() * 2, self->read_buffer_max_));
      }
    }
  }

  // Routes one reply. Returns false if it broke the session.
  bool dispatch(resp::value v) {
    if (subscribed_ || v.kind() == resp::kind::push) {
      if (auto m = to_message(v)) {
        messages.push_back(std::move(*m));
        message_ready.cancel();
        return true;
      }
      if (v.kind() == resp::kind::push) return true;  // other RESP3 pushes are not used
    }
    if (read_queue_.empty()) {
      fail(error::unexpected_reply);
      return false;
    }
    reply_slot& slot = read_queue_.front();
    if (slot.pubsub) note_subscription(v);
    if (slot.op != nullptr) slot.op->replies.push_back(std::move(v));
    if (--slot.remaining == 0) {
      if (slot.op != nullptr) finish(*slot.op, {});
      read_queue_.pop_front();
    }
    return true;
  }

  // Tracks subscriptions from a ["subscribe", name, count] confirmation.
  void note_subscription(const resp::value& v) {
    auto elements = v.elements();
    if (!elements || elements->size() != 3) return;
    const auto& e = *elements;
    const auto count = e[2].as_integer();
    if (!count) return;
    const std::string_view kind = e[0].text();
    const std::string name{e[1].text()};
    if (kind == "subscribe") subs_->channels.insert(name);
    else if (kind == "psubscribe") subs_->patterns.insert(name);
    else if (kind == "unsubscribe") subs_->channels.erase(name);
    else if (kind == "punsubscribe") subs_->patterns.erase(name);
    else if (kind != "ssubscribe" && kind != "sunsubscribe") return;
    // Messages can only come while the server counts a subscription.
    subscribed_ = *count > 0;
  }

  asio::any_io_executor ex_;
  std::string where_;
  std::size_t read_buffer_max_;
  tcp::socket socket_;
  bool open_ = false;
  error_code failure_ = error::not_connected;
  bool subscribed_ = false;
  asio::steady_timer write_signal_;    // cancelled when write_queue_ gains work
  std::deque<pending_op*> write_queue_;  // not yet written, in call order
  std::deque<reply_slot> read_queue_;    // written, awaiting replies, in write order
  std::shared_ptr<subscriptions> subs_;
  resp::parser parser_;
  read_buffer read_buffer_;
};

namespace {

// Leaves the queues when the caller stops waiting before its replies came
// (cancellation, or its frame being destroyed).
struct op_guard {
  session& s;
  pending_op& op;
  ~op_guard() {
    if (!op.done) s.abandon(op);
  }
};

[[noreturn]] void throw_failure(const session& s, error_code ec) {
  throw system_error(ec, "Redis request to " + s.where() + " failed");
}

// Sends `req` on `s` and waits for its replies. See connection::async_exec.
awaitable<std::vector<resp::value>> exec(std::shared_ptr<session> s, const request& req) {
  if (!s->is_open()) throw_failure(*s, s->failure());
  if (req.empty()) co_return std::vector<resp::value>{};
  pending_op op(s->executor(), req);
  op_guard guard{*s, op};
  s->enqueue(op);
  co_await op.wake.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!op.done) {
    throw system_error(asio::error::operation_aborted, "Redis request to " + s->where() + " cancelled");
  }
  if (op.ec) throw_failure(*s, op.ec);
  co_return std::move(op.replies);
}

// Resolves, connects and runs the set-up commands on `s`. On a refused
// set-up command, stores the server's message in `server_reply` and
// throws error::auth_failed or error::handshake_failed.
awaitable<void> open_session(std::shared_ptr<session> s, const config& cfg,
                             std::shared_ptr<subscriptions> subs, std::string& server_reply) {
  error_code not_an_address;
  const auto address = asio::ip::make_address(cfg.host, not_an_address);
  if (!not_an_address) {
    // An address needs no lookup. Asio resolves names on a thread it
    // starts and keeps for the io_context's life, so skipping it spares
    // every worker child an idle thread.
    co_await s->socket().async_connect(tcp::endpoint(address, cfg.port), asio::use_awaitable);
  } else {
    tcp::resolver resolver(s->executor());
    tcp::resolver::results_type endpoints;
    // Not one conditional expression: g++ 12 miscompiles a co_await in
    // one arm of ?: (the coroutine crashed when that arm ran).
    if (cfg.resolve_in_place) {
      endpoints = resolver.resolve(cfg.host, std::to_string(cfg.port));
    } else {
      endpoints = co_await resolver.async_resolve(cfg.host, std::to_string(cfg.port), asio::use_awaitable);
    }
    co_await asio::async_connect(s->socket(), endpoints, asio::use_awaitable);
  }
  s->socket().set_option(tcp::no_delay(true));
  s->start();

  request setup;
  const bool auth = !cfg.password.empty();
  if (auth) {
    if (cfg.username.empty()) {
      setup.push("AUTH", cfg.password);
    } else {
      setup.push("AUTH", cfg.username, cfg.password);
    }
  }
  if (cfg.db != 0) setup.push("SELECT", cfg.db);
  // The name only labels the connection in CLIENT LIST: where an ACL
  // refuses it, the connection goes on unnamed.
  std::optional<std::size_t> setname_at;
  if (!cfg.client_name.empty()) {
    setname_at = setup.expected_replies();
    setup.push("CLIENT", "SETNAME", cfg.client_name);
  }
  if (!subs->channels.empty()) setup.push("SUBSCRIBE", subs->channels);
  if (!subs->patterns.empty()) setup.push("PSUBSCRIBE", subs->patterns);
  if (setup.empty()) co_return;

  const auto replies = co_await exec(s, setup);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].is_error() || i == setname_at) continue;
    server_reply = replies[i].error_message();
    throw system_error(auth && i == 0 ? error::auth_failed : error::handshake_failed);
  }
}

}  // namespace
}  // namespace detail

// ===========================================================================
// connection
// ===========================================================================

connection::connection(asio::any_io_executor ex, config cfg)
    : ex_(std::move(ex)),
      cfg_(std::move(cfg)),
      subs_(std::make_shared<detail::subscriptions>()) {
  session_ = std::make_shared<detail::session>(ex_, cfg_, subs_);
}

connection::~connection() {
  if (session_) session_->fail(error::closed);
}

connection::connection(connection&&) noexcept = default;

connection& connection::operator=(connection&& other) noexcept {
  if (this != &other) {
    if (session_) session_->fail(error::closed);
    ex_ = std::move(other.ex_);
    cfg_ = std::move(other.cfg_);
    session_ = std::move(other.session_);
    subs_ = std::move(other.subs_);
  }
  return *this;
}

void connection::drop_session() noexcept {
  if (!session_ || !session_->is_open()) return;
  session_->fail(error::closed);  // its waiting callers see "closed"...
  try {
    // ...while later calls see "not connected".
    session_ = std::make_shared<detail::session>(ex_, cfg_, subs_);
  } catch (...) {
    // Out of memory: keep the failed session; calls then report "closed".
  }
}

void connection::close() noexcept {
  drop_session();
  if (subs_) subs_->clear();
}

bool connection::is_connected() const noexcept { return session_ && session_->is_open(); }

std::size_t connection::subscription_count() const noexcept { return subs_ ? subs_->count() : 0; }

awaitable<void> connection::async_connect() {
  drop_session();
  auto s = std::make_shared<detail::session>(ex_, cfg_, subs_);
  error_code ec;
  std::string server_reply;
  try {
    if (cfg_.connect_timeout.count() > 0) {
      co_await async_with_timeout(detail::open_session(s, cfg_, subs_, server_reply),
                                  cfg_.connect_timeout);
    } else {
      co_await detail::open_session(s, cfg_, subs_, server_reply);
    }
  } catch (const system_error& e) {
    ec = e.code() == error::timeout ? error_code(error::connect_timeout)
                                    : detail::without_location(e.code());
  }
  if (ec) {
    s->fail(ec);
    session_ = s;  // later calls report why the connect failed
    std::string what = "cannot connect to Redis at " + to_string(cfg_);
    if (!server_reply.empty()) what += " (server replied: " + server_reply + ")";
    throw system_error(ec, what);
  }
  session_ = std::move(s);
}

awaitable<void> connection::async_reconnect() {
  drop_session();
  thread_local std::minstd_rand rng{std::random_device{}()};
  auto delay = std::max(cfg_.reconnect_min_delay, std::chrono::milliseconds{1});
  asio::steady_timer timer(ex_);
  for (int attempt = 1;; ++attempt) {
    std::string failure;
    try {
      co_await async_connect();
      if (attempt > 1) {
        fmt::print(stderr, "celeriac.redis: reconnected to {} after {} attempts\n", to_string(cfg_),
                   attempt);
      }
      co_return;
    } catch (const system_error& e) {
      failure = e.what();
    }
    const auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      throw system_error(asio::error::operation_aborted,
                         "reconnecting to Redis at " + to_string(cfg_) + " cancelled");
    }
    // Equal jitter: wait between half and all of the current delay.
    std::uniform_int_distribution<long long> spread(0, delay.count() / 2);
    const auto wait = delay - std::chrono::milliseconds{spread(rng)};
    fmt::print(stderr, "celeriac.redis: reconnect attempt {} failed: {}; retrying in {} ms\n",
               attempt, failure, wait.count());
    timer.expires_after(wait);
    co_await timer.async_wait(asio::use_awaitable);
    delay = std::min(delay * 2, std::max(cfg_.reconnect_max_delay, delay));
  }
}

awaitable<std::vector<resp::value>> connection::async_exec(const request& req) {
  return detail::exec(session_, req);
}

awaitable<void> connection::async_pubsub(request req) {
  const auto replies = co_await async_exec(req);
  for (const auto& reply : replies) {
    if (reply.is_error()) {
      throw system_error(resp::error::server_error, "Redis at " + to_string(cfg_) +
                                                        " refused a subscription change: " +
                                                        std::string(reply.error_message()));
    }
  }
}

std::optional<push_message> connection::try_receive() {
  if (!session_ || session_->messages.empty()) return std::nullopt;
  push_message m = std::move(session_->messages.front());
  session_->messages.pop_front();
  return m;
}

awaitable<push_message> connection::async_receive() {
  std::shared_ptr<detail::session> s = session_;
  for (;;) {
    if (!s->messages.empty()) {
      push_message m = std::move(s->messages.front());
      s->messages.pop_front();
      co_return m;
    }
    if (!s->is_open()) {
      throw system_error(s->failure(), "waiting for a Redis message from " + s->where() + " failed");
    }
    if (s->receiving) {
      throw std::logic_error("connection::async_receive: another coroutine is already waiting");
    }
    struct receiving_flag {
      bool& flag;
      explicit receiving_flag(bool& f) : flag(f) { flag = true; }
      ~receiving_flag() { flag = false; }
    } waiting{s->receiving};
    co_await s->message_ready.async_wait(asio::as_tuple(asio::use_awaitable));
    // Cancelled: leave any message that raced in for the next receive, as
    // the caller's `||` would throw it away.
    const auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      throw system_error(asio::error::operation_aborted,
                         "waiting for a Redis message from " + s->where() + " cancelled");
    }
  }
}

awaitable<std::optional<push_message>> connection::async_receive(
    std::chrono::steady_clock::duration timeout) {
  if (auto queued = try_receive()) co_return queued;
  try {
    co_return co_await async_with_timeout(async_receive(), timeout);
  } catch (const system_error& e) {
    if (e.code() != error::timeout) throw;
  }
  co_return std::nullopt;
}

}  // namespace celeriac::redis
