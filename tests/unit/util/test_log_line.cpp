// --log-format json: the line, byte for byte, and what it takes from the
// message.
#include <doctest/doctest.h>

#include "util/clock.hpp"
#include "util/log_line.hpp"

using namespace celeriac;
using celeriac::log::json_line;
using celeriac::log::json_quote;
using celeriac::log::line_fields;
using celeriac::log::task_in_message;

namespace {

util::wall_time at(const char* iso) { return *util::parse_iso8601(iso); }

}  // namespace

TEST_CASE("a JSON line carries Celery's record fields, task ones only when known") {
  line_fields f;
  f.lvl = log::level::info;
  f.time = at("2026-11-22T03:25:21.594123+00:00");
  f.process = "Worker-1";
  f.pid = 4711;
  f.message = "Task celeriac.add[eb13df2d] succeeded in 0.000012s: 5";
  f.task = task_in_message(f.message);
  CHECK(json_line(f) ==
        R"({"time": "2026-11-22T03:25:21.594123+00:00", "level": "INFO", "process": "Worker-1", "pid": 4711, )"
        R"("task_name": "celeriac.add", "task_id": "eb13df2d", )"
        R"("message": "Task celeriac.add[eb13df2d] succeeded in 0.000012s: 5"})"
        "\n");
  f.lvl = log::level::warning;
  f.process = "MainProcess";
  f.message = "worker child 2 (pid 4711) killed by signal 9 (SIGKILL)";
  f.task.reset();
  CHECK(json_line(f) ==
        R"({"time": "2026-11-22T03:25:21.594123+00:00", "level": "WARNING", "process": "MainProcess", "pid": 4711, )"
        R"x("message": "worker child 2 (pid 4711) killed by signal 9 (SIGKILL)"})x"
        "\n");
}

TEST_CASE("JSON strings: escapes, control characters, UTF-8 kept, bad bytes replaced") {
  CHECK(json_quote("plain") == R"("plain")");
  CHECK(json_quote("a \"q\" \\ b") == R"("a \"q\" \\ b")");
  CHECK(json_quote("l1\nl2\r\t") == R"("l1\nl2\r\t")");
  CHECK(json_quote(std::string("\x01\x1f\x7f", 3)) == R"("\u0001\u001f\u007f")");
  CHECK(json_quote("caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x8d\x8b") == "\"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x8d\x8b\"");
  CHECK(json_quote("bad \xff byte") == "\"bad \xef\xbf\xbd byte\"");
  CHECK(json_quote("cut \xe2\x98") == "\"cut \xef\xbf\xbd\xef\xbf\xbd\"");
  CHECK(json_quote("overlong \xc0\xaf") == "\"overlong \xef\xbf\xbd\xef\xbf\xbd\"");
  CHECK(json_quote("surrogate \xed\xa0\x80") == "\"surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

TEST_CASE("the task a message is about, in Celery's NAME[ID] notation") {
  auto t = task_in_message("Task tasks.add[5e1c6c1e-1111-2222-3333-444455556666] raised unexpected: boom");
  REQUIRE(t);
  CHECK(t->name == "tasks.add");
  CHECK(t->id == "5e1c6c1e-1111-2222-3333-444455556666");
  t = task_in_message("Discarding revoked task: celeriac.sleep[abc]");
  REQUIRE(t);
  CHECK(t->name == "celeriac.sleep");
  CHECK(t->id == "abc");
  t = task_in_message("Soft time limit (2.0s) exceeded for my_app.tasks:run[x-1]");
  REQUIRE(t);
  CHECK(t->name == "my_app.tasks:run");
  CHECK(!task_in_message("registered tasks: a, b"));
  CHECK(!task_in_message("[brackets] at the start are not a task"));
  CHECK(!task_in_message("list [1, 2] with spaces"));
  CHECK(!task_in_message("quoted 'x[1]' is not after a space"));
  CHECK(!task_in_message("empty id x[]"));
  CHECK(!task_in_message("9lives[1] starts with a digit"));
}
