// The executor's side of time limits and of revoke --terminate: deadlines
// counted from each job's start, should_stop()/checkpoint()/progress() past
// the soft deadline, the outcomes Celery would report, and stopping one
// running job by its seq. Real threads, short limits.

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "app/task_error.hpp"
#include "celery/result_meta.hpp"
#include "test_jobs.hpp"
#include "worker/executor.hpp"

using namespace celeriac;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// An executor whose outcomes a test can wait for.
class harness {
public:
  explicit harness(worker::executor::start_callback on_start = {})
      : ex_([this](std::vector<worker::outcome> os) { take(std::move(os)); }, std::move(on_start),
            [this](const app::task_request&, const app::progress_report& p) {
              std::lock_guard lock(mu_);
              progress_.push_back(p.done);
            }) {}

  worker::executor& ex() { return ex_; }

  void submit(std::uint64_t seq, app::task_function fn, std::optional<double> soft = std::nullopt,
              std::optional<double> hard = std::nullopt) {
    worker::job j = jobs_.make(seq, "t.limited", std::move(fn));
    j.soft_limit = soft;
    j.hard_limit = hard;
    ex_.submit(std::move(j));
  }

  worker::outcome wait_one() {
    std::unique_lock lock(mu_);
    REQUIRE(cv_.wait_for(lock, 10s, [this] { return !done_.empty(); }));
    worker::outcome o = std::move(done_.front());
    done_.erase(done_.begin());
    return o;
  }

  std::vector<std::int64_t> progress() {
    std::lock_guard lock(mu_);
    return progress_;
  }

private:
  void take(std::vector<worker::outcome> os) {
    {
      std::lock_guard lock(mu_);
      for (auto& o : os) done_.push_back(std::move(o));
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<worker::outcome> done_;
  std::vector<std::int64_t> progress_;
  test::test_jobs jobs_;  // outlive the executor's jobs
  worker::executor ex_;  // last: its thread stops before the rest goes
};

// Spins until should_stop(), with a safety exit for a broken stop.
bool wait_for_stop(const app::task_context& ctx) {
  const auto give_up = steady::now() + 5s;
  while (!ctx.should_stop()) {
    if (steady::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("without limits a task is never told to stop and succeeds") {
  harness h;
  h.submit(1, [](app::task_context& ctx, const json::array&, const json::object&) -> json::value {
    CHECK_FALSE(ctx.soft_deadline());
    CHECK_FALSE(ctx.should_stop());
    ctx.checkpoint();
    return 7;
  });
  auto o = h.wait_one();
  CHECK(o.what == worker::outcome::kind::success);
  CHECK(o.result == json::value(7));
}

TEST_CASE("past the soft deadline checkpoint() fails the task with SoftTimeLimitExceeded(), no args") {
  harness h;
  const auto before = steady::now();
  h.submit(1, [before](app::task_context& ctx, const json::array&, const json::object&) -> json::value {
    REQUIRE(ctx.soft_deadline());
    // Counted from the start of the run, not from submission or before.
    CHECK(*ctx.soft_deadline() >= before + 50ms);
    CHECK(*ctx.soft_deadline() <= steady::now() + 50ms);
    for (;;) {
      ctx.checkpoint("3 rows done");
      std::this_thread::sleep_for(1ms);
    }
  }, 0.05);
  auto o = h.wait_one();
  CHECK(o.what == worker::outcome::kind::failure);
  CHECK(o.exc_type == "SoftTimeLimitExceeded");
  CHECK(o.exc_module == "billiard.exceptions");
  CHECK(o.message == "soft time limit (0.05s) exceeded: 3 rows done");
  REQUIRE(o.exc_args);
  CHECK(o.exc_args->empty());
  CHECK(o.runtime_seconds >= 0.05);
  celery::meta_context ctx;
  ctx.date_done = util::wall_time{};
  const std::string meta = celery::encode_result_meta(worker::failure_meta_of("id-1", o, std::nullopt, ctx));
  CHECK(meta.find(R"({"exc_type": "SoftTimeLimitExceeded", "exc_message": [], "exc_module": "billiard.exceptions"})") !=
        std::string::npos);
}

TEST_CASE("a task told by should_stop() that returns normally keeps its result") {
  harness h;
  h.submit(1, [](app::task_context& ctx, const json::array&, const json::object&) -> json::value {
    if (!wait_for_stop(ctx)) return "never stopped";
    CHECK(ctx.stop_cause_now() == app::stop_cause::soft_time_limit);
    ctx.progress(5, 10, "rows");  // told: reporting how far it got does not throw
    return "partial";
  }, 0.03);
  auto o = h.wait_one();
  CHECK(o.what == worker::outcome::kind::success);
  CHECK(o.result == json::value("partial"));
  CHECK(h.progress() == std::vector<std::int64_t>{5});
}

TEST_CASE("a task that overruns its soft limit without ever asking fails, its result dropped") {
  harness h;
  h.submit(1, [](app::task_context&, const json::array&, const json::object&) -> json::value {
    std::this_thread::sleep_for(60ms);
    return "late";
  }, 0.02);
  auto o = h.wait_one();
  CHECK(o.what == worker::outcome::kind::failure);
  CHECK(o.exc_type == "SoftTimeLimitExceeded");
  CHECK(o.result.is_null());
  REQUIRE(o.exc_args);
  CHECK(o.message.find("never asked should_stop()") != std::string::npos);
}

TEST_CASE("progress() past the soft deadline records the report, then throws to a task never told") {
  harness h;
  h.submit(1, [](app::task_context& ctx, const json::array&, const json::object&) -> json::value {
    ctx.progress(1, 3, "steps");
    std::this_thread::sleep_for(40ms);
    ctx.progress(2, 3, "steps");
    return "not reached";
  }, 0.02);
  auto o = h.wait_one();
  CHECK(o.exc_type == "SoftTimeLimitExceeded");
  CHECK(h.progress() == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("a soft limit at or above the hard one is there, later than the hard deadline") {
  std::optional<steady::time_point> hard_seen, soft_seen;
  harness h([&](const worker::job& j) {
    hard_seen = j.hard_deadline;
    soft_seen = j.soft_deadline;
  });
  h.submit(1, [](app::task_context& ctx, const json::array&, const json::object&) -> json::value {
    return ctx.should_stop();
  }, 20, 10);
  auto o = h.wait_one();
  CHECK(o.result == json::value(false));
  REQUIRE(hard_seen);
  REQUIRE(soft_seen);
  CHECK(*soft_seen - *hard_seen == 10s);
}

TEST_CASE("running_since and running_hard_deadline describe the running job, nullopt when idle") {
  std::atomic<bool> release{false};
  std::atomic<bool> started{false};
  harness h;
  CHECK_FALSE(h.ex().running_since());
  const auto before = steady::now();
  h.submit(7, [&](app::task_context&, const json::array&, const json::object&) -> json::value {
    started = true;
    while (!release) std::this_thread::sleep_for(1ms);
    return nullptr;
  }, std::nullopt, 30);
  while (!started) std::this_thread::sleep_for(1ms);
  auto since = h.ex().running_since();
  auto hard = h.ex().running_hard_deadline();
  REQUIRE(since);
  REQUIRE(hard);
  CHECK(*since >= before);
  CHECK(*hard - *since == 30s);
  release = true;
  h.wait_one();
  CHECK_FALSE(h.ex().running_since());
  CHECK_FALSE(h.ex().running_hard_deadline());
}

TEST_CASE("request_stop_current stops that job only, and its outcome is terminated") {
  std::atomic<bool> started{false};
  harness h;
  h.submit(1, [&](app::task_context& ctx, const json::array&, const json::object&) -> json::value {
    started = true;
    if (!wait_for_stop(ctx)) return "never stopped";
    CHECK(ctx.stop_cause_now() == app::stop_cause::terminate);
    return "wound up";  // what it returns after being told does not count
  });
  h.submit(2, [](app::task_context& ctx, const json::array&, const json::object&) -> json::value {
    return ctx.should_stop();
  });
  while (!started) std::this_thread::sleep_for(1ms);
  CHECK_FALSE(h.ex().request_stop_current(2));  // queued, not running
  CHECK_FALSE(h.ex().request_stop_current(0));
  CHECK(h.ex().request_stop_current(1));
  auto first = h.wait_one();
  CHECK(first.terminated);
  CHECK(first.what == worker::outcome::kind::failure);
  CHECK(first.exc_type == "Terminated");
  CHECK(first.result.is_null());
  auto second = h.wait_one();
  CHECK_FALSE(second.terminated);
  CHECK(second.result == json::value(false));  // the next job is not stopped
}

TEST_CASE("checkpoint() after request_stop_current throws task_terminated with the task's detail") {
  std::atomic<bool> started{false};
  harness h;
  h.submit(3, [&](app::task_context& ctx, const json::array&, const json::object&) -> json::value {
    started = true;
    for (;;) {
      ctx.checkpoint("at item 4");
      std::this_thread::sleep_for(1ms);
    }
  });
  while (!started) std::this_thread::sleep_for(1ms);
  CHECK(h.ex().request_stop_current(3));
  auto o = h.wait_one();
  CHECK(o.terminated);
  CHECK(o.message == "revoked with terminate: at item 4");
}
