// A beat message is an ordinary Celery task message: a Python Celery 5.2
// worker and a celeriac worker both run it and store its result.

#include "beat_test_util.hpp"

#include "json/parse.hpp"

using namespace celeriac;
using namespace celeriac::test;

namespace {

constexpr std::string_view schedule = R"([[entry]]
name = "add"
task = "celeriac.add"
every = "1s"
args = [2, 3]
)";

constexpr std::string_view python_app = R"(import os
from celery import Celery

app = Celery("beatapp", broker=os.environ["BROKER"], backend=os.environ["BROKER"])
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                timezone="UTC", enable_utc=True)


@app.task(name="celeriac.add")
def add(x, y):
    return x + y
)";

// Runs beat until it has sent `n` messages, stops it, and returns their ids.
std::vector<std::string> beat_messages(const redis_server& server, const temp_dir& dir, std::size_t n) {
  const auto file = dir / "schedule.toml";
  write_file(file, schedule);
  auto client = connect(server);
  auto& c = *client;
  auto beat = start_beat(server, file, dir / "beat.log", 1000, {"--name", "consumers"});
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (c.command("LLEN", "celery").as_integer().value() < static_cast<std::int64_t>(n) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  CHECK(beat->stop(SIGTERM) == 0);
  std::vector<std::string> ids;
  for (const auto& m : queued_messages(c)) ids.push_back(m.headers.id);
  REQUIRE(ids.size() >= n);
  return ids;
}

// Waits until every id has a SUCCESS result of 5.
void expect_results(const redis_server& server, const std::vector<std::string>& ids, child_process& worker) {
  auto client = connect(server);
  auto& c = *client;
  for (const auto& id : ids) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    std::optional<json::value> meta;
    while (std::chrono::steady_clock::now() < deadline) {
      auto v = c.command("GET", "celery-task-meta-" + id);
      if (!v.is_nil()) {
        auto parsed = json::parse(*v.as_string());
        REQUIRE(parsed.has_value());
        meta = std::move(*parsed);
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    REQUIRE_MESSAGE(meta.has_value(), "no result for " << id << "; worker log:\n" << worker.log());
    REQUIRE(meta->find("status") != nullptr);
    CHECK(meta->find("status")->as_string() == "SUCCESS");
    REQUIRE(meta->find("result") != nullptr);
    CHECK(meta->find("result")->as_integer() == 5);
  }
}

}  // namespace

TEST_CASE("a Python Celery worker runs beat's messages") {
  if (::access("/usr/bin/python3", X_OK) != 0) {
    MESSAGE("skipped: /usr/bin/python3 (Debian's Celery 5.2) is not installed");
    return;
  }
  redis_server server;
  temp_dir dir;
  write_file(dir / "beatapp.py", python_app);
  const auto ids = beat_messages(server, dir, 2);
  child_options options;
  options.cwd = dir.path;
  options.env = {"BROKER=" + server.url()};
  child_process worker({"/usr/bin/python3", "-m", "celery", "-A", "beatapp", "worker", "-P", "solo", "-c", "1",
                        "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "py@beattest", "-l",
                        "info"},
                       dir / "python-worker.log", options);
  expect_results(server, ids, worker);
  worker.stop(SIGTERM, 15s);
}

TEST_CASE("a celeriac worker runs beat's messages") {
  redis_server server;
  temp_dir dir;
  const auto ids = beat_messages(server, dir, 2);
  child_process worker({celeriac_bin(), "worker", "-b", server.url(), "-c", "1", "-n", "c@beattest"},
                       dir / "celeriac-worker.log");
  expect_results(server, ids, worker);
  worker.stop(SIGTERM, 15s);
}
