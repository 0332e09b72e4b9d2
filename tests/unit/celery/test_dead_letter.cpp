#include <doctest/doctest.h>

#include "celery/dead_letter.hpp"
#include "celery/message_codec.hpp"
#include "json/parse.hpp"
#include "util/base64.hpp"

using namespace celeriac;
using namespace celeriac::celery;

namespace {

const util::wall_time when = *util::parse_iso8601("2026-11-22T02:12:47.800589+00:00");

}  // namespace

TEST_CASE("dead_letter_entry layout") {
  CHECK(dead_letter_entry("not_json", "message is not JSON", "celery", when, "{oops") ==
        R"({"reason": "not_json", "message": "message is not JSON", "queue": "celery",)"
        R"( "time": "2026-11-22T02:12:47.800589+00:00", "raw": "{oops"})");
}

TEST_CASE("dead_letter_entry for a decode_error names the task when known") {
  const std::string raw =
      R"({"body": "", "content-type": "application/x-python-serialize", "headers": {"task": "t", "id": "i"}})";
  auto err = decode_message(raw);
  REQUIRE_FALSE(err.has_value());
  auto entry = json::parse(dead_letter_entry(err.error(), "celery", when, raw));
  REQUIRE(entry.has_value());
  CHECK(*entry->find("reason") == json::value("unsupported_content_type"));
  CHECK(*entry->find("task_id") == json::value("i"));
  CHECK(*entry->find("task") == json::value("t"));
  CHECK(*entry->find("raw") == json::value(raw));
  CHECK(entry->as_object()[2].first == "task_id");  // after message, before queue
  CHECK_FALSE(entry->find("raw_base64"));
}

TEST_CASE("raw bytes that are not UTF-8 are kept exactly in raw_base64") {
  const std::string raw = "\xFF\xFE garbage";
  auto entry = json::parse(dead_letter_entry("not_json", "m", "q", when, raw));
  REQUIRE(entry.has_value());
  CHECK(entry->find("raw")->as_string() == "\xEF\xBF\xBD\xEF\xBF\xBD garbage");
  CHECK(util::base64_decode(entry->find("raw_base64")->as_string()) == raw);
}
