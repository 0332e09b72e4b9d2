// job_store_bench: the worker's side of `--database` per task, without a
// server: the three lifecycle updates a quick task records (RECEIVED with
// its labels, STARTED, SUCCESS with its result), merged in a job_buffer,
// taken in batches as the store's flushes take them, and encoded as the
// COPY text write_jobs sends.
//
//   job_store_bench [tasks=200000] [rounds=5] [tasks_per_flush=6000]
//
// Prints the thread's CPU time per task for each stage, best of the rounds
// (a tool, not a test: run it from a Release build).

#include <fmt/format.h>

#include <algorithm>
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
    u.name = "celeriac.noop";
    u.queue = "celery";
    u.worker = "celeriac@worker-host-01";
  }
  if (state == pg::job_state::success) u.result = "null";
  return u;
}

struct stage_seconds {
  double record = 0, take = 0, encode = 0;
};

stage_seconds run(std::size_t tasks, std::size_t per_flush) {
  stage_seconds s;
  pg::job_buffer buffer(100'000);
  std::size_t copy_bytes = 0;
  for (std::size_t first = 0; first < tasks; first += per_flush) {
    const std::size_t last = std::min(tasks, first + per_flush);
    double t0 = cpu_seconds();
    for (std::size_t i = first; i < last; ++i) {
      const std::string id = task_id(i);
      for (auto state : {pg::job_state::received, pg::job_state::started, pg::job_state::success}) {
        auto u = lifecycle(id, state);
        pg::normalize(u, celeriac::util::wall_now());
        buffer.add(std::move(u));
      }
    }
    double t1 = cpu_seconds();
    s.record += t1 - t0;
    for (;;) {
      t0 = cpu_seconds();
      auto batch = buffer.take(5'000);
      t1 = cpu_seconds();
      s.take += t1 - t0;
      if (batch.empty()) break;
      copy_bytes += pg::encode_copy_rows(batch).size();
      buffer.written(batch);
      batch = {};
      s.encode += cpu_seconds() - t1;
    }
  }
  if (copy_bytes == 0) std::abort();  // keeps the encoding from being optimised away
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t tasks = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::size_t per_flush = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 6'000;
  stage_seconds best{1e9, 1e9, 1e9};
  for (int r = 0; r < rounds; ++r) {
    auto s = run(tasks, per_flush);
    best.record = std::min(best.record, s.record);
    best.take = std::min(best.take, s.take);
    best.encode = std::min(best.encode, s.encode);
  }
  auto us = [&](double seconds) { return seconds / static_cast<double>(tasks) * 1e6; };
  fmt::print("per task (best of {} rounds of {} tasks, {} per flush), CPU µs:\n", rounds, tasks, per_flush);
  fmt::print("  record 3 updates  {:.2f}\n  take              {:.2f}\n  encode + free     {:.2f}\n  total             {:.2f}\n",
             us(best.record), us(best.take), us(best.encode), us(best.record + best.take + best.encode));
}
