// The executor driving the child's io_context (leader/followers): a job
// handed over by an io handler while the executor is idle runs on the
// handler's own thread, the other thread takes io over, handlers never run
// two at once, and drive() ends when io stops, whatever a job is doing.
// Real threads and a real io_context.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include "test_jobs.hpp"
#include "worker/executor.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// Outcomes are posted onto io, as the child posts them.
std::unique_ptr<worker::executor> executor_for(asio::io_context& io,
                                               std::function<void(std::vector<worker::outcome>)> on_io) {
  return std::make_unique<worker::executor>(
      [&io, on_io](std::vector<worker::outcome> os) { asio::post(io, [on_io, os = std::move(os)] { on_io(os); }); },
      worker::executor::start_callback{}, app::task_context::progress_sink{});
}

}  // namespace

TEST_CASE("a job an io handler gives the idle executor runs on that handler's thread; io goes on meanwhile") {
  asio::io_context io(1);
  auto busy = asio::make_work_guard(io);  // as the child's loops keep it: io.stop() ends it
  test::test_jobs js;
  std::thread::id handler_thread, job_thread, handler_during_job;
  bool outcome_seen = false;
  auto ex = executor_for(io, [&](const std::vector<worker::outcome>& os) {
    REQUIRE(os.size() == 1);
    CHECK(os[0].what == worker::outcome::kind::success);
    outcome_seen = true;
    io.stop();
  });
  asio::post(io, [&] {
    handler_thread = std::this_thread::get_id();
    ex->submit(js.make(1, "t.io", [&](app::task_context&, const json::array&, const json::object&) -> json::value {
      job_thread = std::this_thread::get_id();
      // A handler posted now runs while this job runs: the other thread
      // has taken io over.
      std::promise<std::thread::id> ran;
      auto seen = ran.get_future();
      asio::post(io, [&ran] { ran.set_value(std::this_thread::get_id()); });
      REQUIRE(seen.wait_for(5s) == std::future_status::ready);
      handler_during_job = seen.get();
      return nullptr;
    }));
  });
  ex->drive(io);
  CHECK(outcome_seen);
  CHECK(job_thread == handler_thread);
  CHECK(handler_during_job != job_thread);
  CHECK(handler_during_job != std::thread::id{});
}

TEST_CASE("handlers never run two at once, and every job runs once, in order, while io and jobs change threads") {
  asio::io_context io(1);
  auto busy = asio::make_work_guard(io);  // as the child's loops keep it: io.stop() ends it
  test::test_jobs js;
  constexpr int total = 2000;
  std::atomic<int> in_handler{0};
  std::atomic<int> overlaps{0};
  std::vector<std::uint64_t> ran;  // only jobs touch it, one at a time
  std::atomic<int> outcomes{0};
  std::set<std::thread::id> job_threads;
  std::function<void(int)> step;
  auto ex = executor_for(io, [&](const std::vector<worker::outcome>& os) {
    if (in_handler.fetch_add(1) != 0) ++overlaps;
    const int before = outcomes.fetch_add(static_cast<int>(os.size()));
    const int now = before + static_cast<int>(os.size());
    if (now == total) io.stop();
    // Every other job is handed over only once the one before has ended,
    // so the executor is idle (the threads swap roles); the others come
    // in pairs, the second while the first may still run.
    if (now < total && now % 2 == 0) asio::post(io, [&step, now] { step(now); });
    in_handler.fetch_sub(1);
  });
  step = [&](int i) {
    if (in_handler.fetch_add(1) != 0) ++overlaps;
    for (int k = i; k < i + 2; ++k)
      ex->submit(js.make(static_cast<std::uint64_t>(k + 1), "t.io",
                         [&, k](app::task_context&, const json::array&, const json::object&) -> json::value {
                           ran.push_back(static_cast<std::uint64_t>(k + 1));
                           job_threads.insert(std::this_thread::get_id());
                           if (k % 7 == 0) std::this_thread::sleep_for(50us);
                           return nullptr;
                         }));
    in_handler.fetch_sub(1);
  };
  asio::post(io, [&] { step(0); });
  ex->drive(io);
  CHECK(overlaps.load() == 0);
  CHECK(outcomes.load() == total);
  REQUIRE(ran.size() == static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) CHECK(ran[static_cast<std::size_t>(i)] == static_cast<std::uint64_t>(i + 1));
  CHECK(job_threads.size() == 2);  // both threads ran jobs: the roles changed
}

TEST_CASE("drive() returns when io stops while a job still runs, and shutdown waits for the job") {
  asio::io_context io(1);
  auto busy = asio::make_work_guard(io);  // as the child's loops keep it: io.stop() ends it
  test::test_jobs js;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> job_ended{false};
  auto ex = executor_for(io, [](const std::vector<worker::outcome>&) {});
  asio::post(io, [&] {
    ex->submit(js.make(1, "t.io", [&](app::task_context&, const json::array&, const json::object&) -> json::value {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 5s, [&] { return release; });
      job_ended = true;
      return nullptr;
    }));
    asio::post(io, [&] { io.stop(); });  // runs on the other thread, the job still running
  });
  ex->drive(io);
  CHECK_FALSE(job_ended.load());
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  ex->shutdown();
  CHECK(job_ended.load());
}

TEST_CASE("a handler's exception ends drive() with it, and the executor still runs jobs after") {
  asio::io_context io(1);
  auto busy = asio::make_work_guard(io);  // as the child's loops keep it: io.stop() ends it
  test::test_jobs js;
  auto ex = executor_for(io, [](const std::vector<worker::outcome>&) {});
  asio::post(io, [] { throw std::runtime_error("handler broke"); });
  CHECK_THROWS_WITH(ex->drive(io), "handler broke");

  // Not driving io: a submitted job runs on an executor thread.
  std::promise<void> ran;
  ex->submit(js.make(1, "t.io", [&](app::task_context&, const json::array&, const json::object&) -> json::value {
    ran.set_value();
    return nullptr;
  }));
  CHECK(ran.get_future().wait_for(5s) == std::future_status::ready);
}
