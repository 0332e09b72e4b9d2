// The message beat sends: the shape of Celery beat's (beat_message.json),
// a deterministic id, expiry counted from the tick, priority lists.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "celery/message_codec.hpp"
#include "json/dump.hpp"
#include "scheduler/beat_keys.hpp"
#include "scheduler/beat_message.hpp"
#include "scheduler/schedule_file.hpp"

using namespace celeriac;
using namespace celeriac::scheduler;

namespace {

schedule_entry entry(std::string_view body) {
  auto r = parse_schedule("[[entry]]\nname = \"add\"\ntask = \"wireapp.add\"\nevery = \"5s\"\n" + std::string(body) +
                              "\n",
                          "s.toml");
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().to_string()));
  return std::move((*r)[0]);
}

constexpr std::chrono::sys_seconds tick{std::chrono::seconds{1795320000}};  // 2026-11-22T04:00:00Z

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("same headers, properties and body as Celery beat's message, except the ids") {
  const std::string sample = read_file(CELERIAC_FIXTURES_DIR "/celery-wire/beat_message.json");
  REQUIRE_FALSE(sample.empty());
  auto theirs = celery::decode_message(sample);
  REQUIRE(theirs.has_value());

  auto e = entry("args = [2, 2]");
  auto ours = make_beat_message(e, "default", tick, util::wall_time(tick) + std::chrono::milliseconds(3));
  const std::string text = celery::encode_message(ours);
  auto back = celery::decode_message(text);
  REQUIRE(back.has_value());

  CHECK(back->headers.task == theirs->headers.task);
  CHECK(back->headers.argsrepr == theirs->headers.argsrepr);  // "[2, 2]", list style like beat
  CHECK(back->headers.kwargsrepr == theirs->headers.kwargsrepr);
  CHECK(back->headers.eta == theirs->headers.eta);
  CHECK(back->headers.expires == theirs->headers.expires);
  CHECK(back->headers.retries == 0);
  CHECK(back->properties.delivery_info.routing_key == "celery");
  CHECK(back->properties.priority == 0);
  CHECK(celery::encode_body(*back) == celery::encode_body(*theirs));
  // Same keys in the same order: swap the varying values and compare bytes.
  celery::task_message normalized = *back;
  normalized.headers.id = theirs->headers.id;
  normalized.headers.root_id = theirs->headers.root_id;
  normalized.headers.origin = theirs->headers.origin;
  normalized.properties.correlation_id = theirs->properties.correlation_id;
  normalized.properties.reply_to = theirs->properties.reply_to;
  normalized.properties.delivery_tag = theirs->properties.delivery_tag;
  CHECK(celery::encode_message(normalized) == sample);
}

TEST_CASE("the task id is the tick's deterministic id, also the root id and correlation id") {
  auto e = entry("");
  auto m = make_beat_message(e, "default", tick, util::wall_time(tick));
  CHECK(m.headers.id == tick_task_id("default", "add", tick));
  CHECK(m.headers.root_id == m.headers.id);
  CHECK(m.properties.correlation_id == m.headers.id);
  auto again = make_beat_message(e, "default", tick, util::wall_time(tick) + std::chrono::seconds(1));
  CHECK(again.headers.id == m.headers.id);
  CHECK(again.properties.delivery_tag != m.properties.delivery_tag);
  auto next = make_beat_message(e, "default", tick + std::chrono::seconds(5), util::wall_time(tick));
  CHECK(next.headers.id != m.headers.id);
  auto other_schedule = make_beat_message(e, "other", tick, util::wall_time(tick));
  CHECK(other_schedule.headers.id != m.headers.id);
}

TEST_CASE("expires counts from the tick; expiration is what is left when sent") {
  auto e = entry("expires = 30");
  auto m = make_beat_message(e, "default", tick, util::wall_time(tick) + std::chrono::seconds(10));
  CHECK(m.headers.expires == "2026-11-22T04:00:30+00:00");
  CHECK(m.properties.expiration == "20000");
  auto f = entry("expires = 1.5");
  auto n = make_beat_message(f, "default", tick, util::wall_time(tick));
  CHECK(n.headers.expires == "2026-11-22T04:00:01.500000+00:00");
  CHECK(n.properties.expiration == "1500");
}

TEST_CASE("queue, priority, args and kwargs go into the message; priority picks kombu's sub-list") {
  auto e = entry("queue = \"analytics\"\npriority = 5\nargs = [1, \"x\"]\nkwargs = { view = \"v\" }");
  auto m = make_beat_message(e, "default", tick, util::wall_time(tick));
  CHECK(m.properties.delivery_info.routing_key == "analytics");
  CHECK(m.properties.priority == 5);
  CHECK(json::dump(json::value(m.args)) == "[1, \"x\"]");
  CHECK(json::dump(json::value(m.kwargs)) == "{\"view\": \"v\"}");
  CHECK(m.headers.argsrepr == "[1, 'x']");
  CHECK(beat_message_list(e) == std::string("analytics\x06\x16" "3"));
  CHECK(beat_message_list(entry("")) == "celery");
}
