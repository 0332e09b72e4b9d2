// rate_limit_bench: per-task rate limits, GCRA (admission.hpp) against the
// sliding-window log (limiter.hpp), on a PRIVATE, EMPTY Redis: it flushes
// the database between measurements, and refuses to start on one that
// holds keys.
//
//   rate_limit_bench REDIS_URL [seconds per steady run = 2] [clients = 4]
//
// For each algorithm and the limits 100/s and 1000/m it measures:
//   - the Redis CPU of one admission call, over 2000 calls one after
//     another (the least of 3 rounds): the script's own time (INFO commandstats, EVALSHA usec) and
//     the whole server's CPU (used_cpu_user + used_cpu_sys), per call;
//     admitted on a fresh limit, and refused on a full one;
//   - the memory of a full limit (MEMORY USAGE of its keys);
//   - a steady run: `clients` connections, each asking for one run after
//     another and, when refused, waiting the retry_after it was given (as a
//     worker deferring the run would). From the Redis time of every
//     admission: the most admitted in any window of the limit's length (must
//     not exceed N; the bench fails if it does) and in any tenth of it (how
//     bursty), and the calls made per admission.
// Prints markdown tables; scripts/bench-rate-limit runs it on a private
// redis-server and puts them in docs/benchmarks.md.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "limiter/admission.hpp"
#include "limiter/limiter.hpp"
#include "limiter/scripts.hpp"
#include "redis/config.hpp"
#include "redis/script.hpp"
#include "redis/sync_client.hpp"
#include "util/uuid.hpp"

namespace asio = boost::asio;
namespace limiter = celeriac::limiter;
namespace redis = celeriac::redis;
namespace resp = celeriac::resp;
using namespace std::chrono_literals;
using std::chrono::microseconds;

namespace {

constexpr int calls_per_cost = 2000;
constexpr int cost_rounds = 3;

enum class algorithm { gcra, log };

const char* name_of(algorithm a) { return a == algorithm::gcra ? "GCRA (burst 1)" : "sliding-window log"; }

struct outcome {
  bool admitted = false;
  microseconds retry_after{0};
  double redis_seconds = 0;  // Redis time of the decision
};

double seconds_of_time_reply(const resp::value& reply) {
  const auto parts = reply.elements().value();
  return std::stod(std::string(parts[0].as_string().value())) +
         std::stod(std::string(parts[1].as_string().value())) / 1e6;
}

asio::awaitable<outcome> attempt_gcra(redis::connection& conn, const limiter::limit& lim) {
  const limiter::admission a = co_await limiter::async_admit(conn, lim);
  co_return outcome{a.admitted, a.retry_after, static_cast<double>(a.decided_at.count()) / 1e6};
}

// The log's script does not say when it decided: a TIME pipelined behind
// it runs right after it (Redis runs a client's pipelined commands in a
// row), a few µs late at most. Scripts are loaded before every
// measurement, so there is no NOSCRIPT to handle.
asio::awaitable<outcome> attempt_log(redis::connection& conn, const limiter::limit& lim) {
  const limiter::charge charges[] = {{&lim, 1}};
  std::string id = celeriac::util::uuid4();
  const limiter::script_call call = limiter::charge_call(charges, id);
  redis::request req;
  redis::push_evalsha(req, limiter::scripts::charge(), call.keys, call.args);
  req.push("TIME");
  const std::vector<resp::value> replies = co_await conn.async_exec(req);
  const limiter::decision d = limiter::read_charge_reply(replies.at(0), charges, std::move(id));
  co_return outcome{d.granted, d.retry_after, seconds_of_time_reply(replies.at(1))};
}

asio::awaitable<outcome> attempt(redis::connection& conn, algorithm a, const limiter::limit& lim) {
  if (a == algorithm::gcra) co_return co_await attempt_gcra(conn, lim);
  co_return co_await attempt_log(conn, lim);
}

// Runs `body` on its own io_context and connection until it ends.
void run_on(const redis::config& cfg, const std::function<asio::awaitable<void>(redis::connection&)>& body) {
  asio::io_context io;
  redis::connection conn(io.get_executor(), cfg);
  std::exception_ptr error;
  auto whole = [&]() -> asio::awaitable<void> {
    co_await conn.async_connect();
    co_await body(conn);
  };
  asio::co_spawn(io, whole(), [&](std::exception_ptr e) {
    error = e;
    conn.close();
  });
  io.run();
  if (error) std::rethrow_exception(error);
}

// The number after `field` in the INFO line that starts with `line`.
double info_number(std::string_view info, std::string_view line, std::string_view field) {
  const auto start = info.find(line);
  if (start == std::string_view::npos) return 0;
  const std::string_view text = info.substr(start, info.find('\n', start) - start);
  const auto at = text.find(field);
  if (at == std::string_view::npos) return 0;
  return std::stod(std::string(text.substr(at + field.size())));
}

struct server_stats {
  double evalsha_calls = 0;
  double evalsha_usec = 0;
  double cpu_seconds = 0;
};

server_stats read_stats(redis::sync_client& admin) {
  const std::string commands(admin.command("INFO", "commandstats").as_string().value());
  const std::string cpu(admin.command("INFO", "cpu").as_string().value());
  return {info_number(commands, "cmdstat_evalsha:", "calls="), info_number(commands, "cmdstat_evalsha:", ",usec="),
          info_number(cpu, "used_cpu_sys:", ":") + info_number(cpu, "used_cpu_user:", ":")};
}

void fresh_start(redis::sync_client& admin) {
  admin.command("FLUSHDB");
  admin.command("SCRIPT", "LOAD", limiter::scripts::admit().source());
  admin.command("SCRIPT", "LOAD", limiter::scripts::charge().source());
}

// What the calls since `before` cost Redis, per call: the scripts alone,
// and the whole server (parsing, replies, its timers).
struct cost {
  double script_usec = 0;
  double cpu_usec = 0;
};

cost cost_since(redis::sync_client& admin, const server_stats& before) {
  const server_stats after = read_stats(admin);
  const double calls = after.evalsha_calls - before.evalsha_calls;
  if (calls <= 0) return {};
  return {(after.evalsha_usec - before.evalsha_usec) / calls, (after.cpu_seconds - before.cpu_seconds) * 1e6 / calls};
}

std::vector<std::string> keys_of(algorithm a, const limiter::limit& lim) {
  if (a == algorithm::gcra) return {lim.key};
  limiter::limit_keys k = limiter::keys_for(lim);
  return {k.log, k.amounts, k.sum};
}

// An admission on a fresh limit.
cost admitted_cost(const redis::config& cfg, redis::sync_client& admin, algorithm a, const limiter::limit& lim) {
  fresh_start(admin);
  const server_stats before = read_stats(admin);
  run_on(cfg, [&](redis::connection& conn) -> asio::awaitable<void> {
    for (int i = 0; i < calls_per_cost; ++i) {
      const limiter::limit fresh{fmt::format("{}:{}", lim.key, i), lim.amount_per_window, lim.window};
      co_await attempt(conn, a, fresh);
    }
  });
  return cost_since(admin, before);
}

struct full_limit {
  cost refused_cost;
  int refused = 0;          // of calls_per_cost
  long long memory = 0;     // bytes, all keys of the limit
};

// Fills the limit (as many admissions as it takes), weighs it, then
// measures calls against it.
full_limit full_cost(const redis::config& cfg, redis::sync_client& admin, algorithm a, const limiter::limit& lim) {
  fresh_start(admin);
  full_limit out;
  run_on(cfg, [&](redis::connection& conn) -> asio::awaitable<void> {
    while ((co_await attempt(conn, a, lim)).admitted) {
    }
  });
  for (const std::string& key : keys_of(a, lim))
    if (const auto bytes = admin.command("MEMORY", "USAGE", key, "SAMPLES", "0").as_integer()) out.memory += *bytes;
  const server_stats before = read_stats(admin);
  run_on(cfg, [&](redis::connection& conn) -> asio::awaitable<void> {
    for (int i = 0; i < calls_per_cost; ++i)
      if (!(co_await attempt(conn, a, lim)).admitted) ++out.refused;
  });
  out.refused_cost = cost_since(admin, before);
  return out;
}

// The most of `times` (sorted, seconds) inside one window [t, t + width).
std::size_t busiest_window(const std::vector<double>& times, double width) {
  std::size_t worst = 0;
  for (std::size_t first = 0, end = 0; first < times.size(); ++first) {
    while (end < times.size() && times[end] < times[first] + width) ++end;
    worst = std::max(worst, end - first);
  }
  return worst;
}

struct steady_run {
  long calls = 0;
  std::vector<double> admitted_at;  // Redis seconds, sorted
};

steady_run run_steady(const redis::config& cfg, redis::sync_client& admin, algorithm a, const limiter::limit& lim,
                      std::chrono::milliseconds length, int clients) {
  fresh_start(admin);
  steady_run out;
  std::mutex mu;
  std::vector<std::string> failures;
  const auto until = std::chrono::steady_clock::now() + length;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      try {
        run_on(cfg, [&](redis::connection& conn) -> asio::awaitable<void> {
          asio::steady_timer timer(co_await asio::this_coro::executor);
          while (std::chrono::steady_clock::now() < until) {
            const outcome o = co_await attempt(conn, a, lim);
            {
              std::lock_guard lock(mu);
              ++out.calls;
              if (o.admitted) out.admitted_at.push_back(o.redis_seconds);
            }
            if (o.admitted) continue;
            timer.expires_after(std::min<std::chrono::steady_clock::duration>(
                o.retry_after, until - std::chrono::steady_clock::now()));
            co_await timer.async_wait(asio::use_awaitable);
          }
        });
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        failures.push_back(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!failures.empty()) throw std::runtime_error("a client failed: " + failures.front());
  std::sort(out.admitted_at.begin(), out.admitted_at.end());
  return out;
}

std::string rate_text(const limiter::limit& lim) {
  return fmt::format("{}/{}", lim.amount_per_window, lim.window == 1s ? "s" : lim.window == 60s ? "m" : "h");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: rate_limit_bench REDIS_URL [seconds per steady run = 2] [clients = 4]\n"
                 "  (a private, empty Redis: the bench flushes it)\n";
    return 64;
  }
  const auto cfg = redis::parse_url(argv[1]);
  if (!cfg) {
    std::cerr << "rate_limit_bench: bad Redis URL " << argv[1] << ": " << cfg.error().message() << "\n";
    return 64;
  }
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  const int clients = argc > 3 ? std::atoi(argv[3]) : 4;
  const auto length = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  try {
    redis::sync_client admin(*cfg, 30s);
    admin.connect();
    if (admin.command("DBSIZE").as_integer() != 0) {
      std::cerr << "rate_limit_bench: the database at " << argv[1]
                << " holds keys; give it a private, empty Redis (the bench flushes it)\n";
      return 64;
    }
    const limiter::limit limits[] = {{"celeriac:limit:task:bench.per_second", 100, 1s},
                                     {"celeriac:limit:task:bench.per_minute", 1000, 60s}};
    const algorithm algorithms[] = {algorithm::gcra, algorithm::log};

    std::cout << "Redis CPU per admission call, " << calls_per_cost
              << " calls one after another, the least of " << cost_rounds << " rounds: the script (EVALSHA usec_per_call) / the whole server "
                 "(used_cpu_user + used_cpu_sys); and the memory of a full limit:\n\n"
              << "| algorithm | limit | admitted, fresh limit | refused, full limit | memory of a full limit |\n"
              << "|---|---|---|---|---|\n";
    for (const algorithm a : algorithms)
      for (const limiter::limit& lim : limits) {
        // The least of a few rounds: other load on the machine only adds.
        cost admitted{1e9, 1e9};
        full_limit full;
        full.refused_cost = admitted;
        for (int round = 0; round < cost_rounds; ++round) {
          const cost a_round = admitted_cost(*cfg, admin, a, lim);
          const full_limit f_round = full_cost(*cfg, admin, a, lim);
          admitted = {std::min(admitted.script_usec, a_round.script_usec), std::min(admitted.cpu_usec, a_round.cpu_usec)};
          full = {{std::min(full.refused_cost.script_usec, f_round.refused_cost.script_usec),
                   std::min(full.refused_cost.cpu_usec, f_round.refused_cost.cpu_usec)},
                  f_round.refused,
                  f_round.memory};
        }
        std::cout << fmt::format("| {} | {} | {:.1f} / {:.1f} µs | {:.1f} / {:.1f} µs ({} of {} refused) | {} bytes |\n",
                                 name_of(a), rate_text(lim), admitted.script_usec, admitted.cpu_usec,
                                 full.refused_cost.script_usec, full.refused_cost.cpu_usec, full.refused,
                                 calls_per_cost, full.memory);
      }

    std::cout << fmt::format(
        "\nSteady runs: {} clients for {:.1f} s each, every refused client waiting the retry_after it was given; "
        "admissions counted at their Redis time:\n\n",
        clients, seconds);
    std::cout << "| algorithm | limit | admitted | calls per admission | most in any window (limit) "
                 "| most in any tenth of it |\n"
              << "|---|---|---|---|---|---|\n";
    int violations = 0;
    for (const algorithm a : algorithms)
      for (const limiter::limit& lim : limits) {
        const steady_run r = run_steady(*cfg, admin, a, lim, length, clients);
        const double window = std::chrono::duration<double>(lim.window).count();
        const std::size_t most = busiest_window(r.admitted_at, window);
        if (static_cast<double>(most) > lim.amount_per_window) ++violations;
        const double per_admission =
            r.admitted_at.empty() ? 0 : static_cast<double>(r.calls) / static_cast<double>(r.admitted_at.size());
        std::cout << fmt::format("| {} | {} | {} | {:.2f} | {} ({}) | {} |\n", name_of(a), rate_text(lim),
                                 r.admitted_at.size(), per_admission, most, lim.amount_per_window,
                                 busiest_window(r.admitted_at, window / 10));
      }
    admin.command("FLUSHDB");
    if (violations > 0) {
      std::cerr << "rate_limit_bench: " << violations << " run(s) admitted more than the limit in one window\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "rate_limit_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
