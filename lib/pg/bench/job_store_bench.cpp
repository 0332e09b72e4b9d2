// job_store_bench: the worker's side of `--database` per task, without a
// server: the three lifecycle updates a quick task records (RECEIVED with
// its labels, STARTED, SUCCESS with its result), merged in a job_buffer,
// taken in batches as the store's flushes take them, and encoded as the
// COPY text write_jobs sends.
//
//   job_store_bench [tasks=200000] [rounds=5] [tasks_per_flush=6000] [prefetch=1000] [touch_kib=16]
//
// As in a worker draining a queue, a task is received `prefetch` tasks
// before it starts and finishes, and between two tasks the worker's own
// work (decoding, Redis) goes through `touch_kib` KiB of other memory, which
// pushes the store's data out of the caches as it does there.
//
// Prints the thread's CPU time per task for each stage, best of the rounds
// (a tool, not a test: run it from a Release build).

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "pg/job_buffer.hpp"
#include "pg/job_writer.hpp"

namespace pg = celeriac::pg;

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string task_id(std::size_t i) { return fmt::format("{:08x}-5f1c-4d2e-9a7b-{:012x}", i * 2654435761u, i); }

pg::job_update lifecycle(const std::string& id, pg::job_state state) {
  pg::job_update u;
  u.task_id = id;
  u.state = state;
  if (state != pg::job_state::started) {
    // As the worker's sink does: one label each, shared by every task.
    static const pg::label name("celeriac.noop"), queue("celery"), worker("celeriac@worker-host-01");
    u.name = name;
    u.queue = queue;
    u.worker = worker;
  }
  if (state == pg::job_state::success) u.result = "null";
  return u;
}

struct stage_seconds {
  double record = 0, take = 0, encode = 0;
};

void record(pg::job_buffer& buffer, const std::string& id, pg::job_state state) {
  auto u = lifecycle(id, state);
  pg::normalize(u, celeriac::util::wall_now());
  buffer.add(std::move(u));
}

// The worker's other work between two tasks: reads and writes `bytes` of a
// large block, a cache line at a time, moving on from where it stopped;
// and allocates what a message's decoding does (a few dozen strings and
// nodes of 16 to 300 bytes), holding them for `prefetch` tasks as the
// worker holds its prefetched messages.
struct other_work {
  std::vector<char> block = std::vector<char>(64 << 20);
  std::size_t at = 0;
  unsigned sum = 0;
  std::vector<std::vector<std::string>> held;
  std::size_t next_held = 0;
  std::minstd_rand rng{7};
  void touch(std::size_t bytes, std::size_t prefetch) {
    for (std::size_t n = 0; n < bytes; n += 64) {
      sum += static_cast<unsigned char>(block[at]);
      block[at] = static_cast<char>(sum);
      at = (at + 64) % block.size();
    }
    if (held.size() < prefetch + 1) held.resize(prefetch + 1);
    std::vector<std::string>& message = held[next_held];
    next_held = (next_held + 1) % held.size();
    message.clear();
    for (int i = 0; i < 30; ++i) message.emplace_back(16 + rng() % 285, 'x');
  }
};

stage_seconds run(std::size_t tasks, std::size_t per_flush, std::size_t prefetch, std::size_t touch_bytes,
                  other_work& other) {
  stage_seconds s;
  pg::job_buffer buffer(100'000);
  std::size_t copy_bytes = 0;
  // The other work alone, to subtract.
  const double o0 = cpu_seconds();
  for (std::size_t i = 0; i < tasks + prefetch; ++i) other.touch(touch_bytes, prefetch);
  const double other_seconds = cpu_seconds() - o0;
  for (std::size_t first = 0; first < tasks + prefetch; first += per_flush) {
    const std::size_t last = std::min(tasks + prefetch, first + per_flush);
    double t0 = cpu_seconds();
    for (std::size_t i = first; i < last; ++i) {
      if (i < tasks) record(buffer, task_id(i), pg::job_state::received);
      if (i >= prefetch) {
        const std::string id = task_id(i - prefetch);
        record(buffer, id, pg::job_state::started);
        record(buffer, id, pg::job_state::success);
      }
      other.touch(touch_bytes, prefetch);
    }
    double t1 = cpu_seconds();
    s.record += t1 - t0;
    for (;;) {
      t0 = cpu_seconds();
      auto batch = buffer.take(5'000);
      t1 = cpu_seconds();
      s.take += t1 - t0;
      if (batch.empty()) break;
      pg::encode_copy_rows(batch.refs(), [&copy_bytes](std::string& rows) { copy_bytes += rows.size(); });
      buffer.written(batch);
      s.encode += cpu_seconds() - t1;
    }
  }
  if (copy_bytes == 0) std::abort();  // keeps the encoding from being optimised away
  s.record -= other_seconds;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t tasks = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::size_t per_flush = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 6'000;
  const std::size_t prefetch = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1'000;
  const std::size_t touch_kib = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 16;
  other_work other;
  stage_seconds best{1e9, 1e9, 1e9};
  for (int r = 0; r < rounds; ++r) {
    auto s = run(tasks, per_flush, prefetch, touch_kib * 1024, other);
    best.record = std::min(best.record, s.record);
    best.take = std::min(best.take, s.take);
    best.encode = std::min(best.encode, s.encode);
  }
  auto us = [&](double seconds) { return seconds / static_cast<double>(tasks) * 1e6; };
  fmt::print("per task (best of {} rounds of {} tasks, {} per flush, prefetch {}, {} KiB of other work between "
             "tasks), CPU µs:\n",
             rounds, tasks, per_flush, prefetch, touch_kib);
  fmt::print("  record 3 updates  {:.2f}\n  take              {:.2f}\n  encode + free     {:.2f}\n  total             {:.2f}\n",
             us(best.record), us(best.take), us(best.encode), us(best.record + best.take + best.encode));
}
