// Key names, schedule names, entry fingerprints and deterministic tick ids.

#include <doctest/doctest.h>

#include "scheduler/beat_keys.hpp"
#include "scheduler/schedule_file.hpp"

#include <stdexcept>

using namespace celeriac::scheduler;

namespace {

schedule_entry entry(std::string_view body) {
  auto r = parse_schedule("[[entry]]\nname = \"e\"\ntask = \"t\"\n" + std::string(body) + "\n", "s.toml");
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string{} : r.error().to_string()));
  return std::move((*r)[0]);
}

}  // namespace

TEST_CASE("keys share the prefix celeriac.beat.<name>") {
  auto k = make_beat_keys("default");
  CHECK(k.lease == "celeriac.beat.default:lease");
  CHECK(k.last == "celeriac.beat.default:last");
  CHECK(k.fingerprint == "celeriac.beat.default:fingerprint");
}

TEST_CASE("schedule names: the entry-name alphabet, 1-100 characters") {
  CHECK_FALSE(beat_name_problem("default"));
  CHECK_FALSE(beat_name_problem("prod.eu-1:analytics_v2"));
  CHECK(beat_name_problem("") == "must not be empty");
  CHECK(beat_name_problem("has space").has_value());
  CHECK(beat_name_problem("a/b").has_value());
  CHECK(beat_name_problem(std::string(101, 'a')).has_value());
}

TEST_CASE("uuid5 matches Python's uuid.uuid5(uuid.NAMESPACE_URL, name)") {
  // /usr/bin/python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, '...'))"
  CHECK(tick_task_id("default", "demo-add", std::chrono::sys_seconds{std::chrono::seconds{1700000000}}) ==
        "a972980f-8dbc-5976-9be9-973657b12b71");
  CHECK(tick_task_id("prod.eu", "refresh-merchant-stats", std::chrono::sys_seconds{std::chrono::seconds{1786060800}}) ==
        "de3f2f52-958e-5d53-b953-6ea074f5b014");
  CHECK(uuid5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "python.org") == "7af94e2b-4dd9-50f0-9c9a-8a48519bdef0");
  // uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org'), and an empty name
  CHECK(uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org") == "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  CHECK(uuid5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "") == "1b4db7eb-4057-5ddf-91e0-36dec72071f5");
  CHECK_THROWS_AS(uuid5("not-a-uuid", "x"), std::runtime_error);
}

TEST_CASE("fingerprints: only the timing counts, however it is written") {
  CHECK(entry_fingerprint(entry("every = \"60s\"")) == "every 60s");
  CHECK(entry_fingerprint(entry("every = \"1m\"")) == entry_fingerprint(entry("every = \"60s\"")));
  CHECK(entry_fingerprint(entry("every = \"1m\"\nargs = [1]\nqueue = \"q\"")) == "every 60s");
  CHECK(entry_fingerprint(entry("cron = \"0 * * * *\"")) == "cron \"0 * * * *\" in UTC");
  CHECK(entry_fingerprint(entry("cron = \"0 * * * *\"\ntimezone = \"Europe/Paris\"")) ==
        "cron \"0 * * * *\" in Europe/Paris");
}
