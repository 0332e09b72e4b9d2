#include <doctest/doctest.h>

#include <random>
#include <string>

#include "celery/message_codec.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"
#include "util/base64.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;

namespace {

// The plain sample as a json::value, to corrupt one field at a time.
json::value sample_envelope() { return *json::parse(wire_fixture("apply_async_plain.json")); }

json::value& member(json::value& v, std::string_view key) {
  json::value* m = v.find(key);
  REQUIRE(m);
  return *m;
}

std::string with_body(json::value env, std::string_view body_json) {
  env.set("body", util::base64_encode(body_json));
  return json::dump(env);
}

decode_error expect_error(std::string_view envelope, decode_reason reason) {
  auto m = decode_message(envelope);
  REQUIRE_FALSE(m.has_value());
  CHECK_MESSAGE(m.error().reason == reason, m.error());
  CHECK_FALSE(m.error().message.empty());
  return m.error();
}

constexpr std::string_view sample_id = "06005ab6-0606-410f-96d9-7c8e813d6f26";

}  // namespace

TEST_CASE("not_json") {
  auto e = expect_error("", decode_reason::not_json);
  CHECK_FALSE(e.task_id);
  expect_error("{\"body\": ", decode_reason::not_json);
  expect_error("[1, 2]", decode_reason::not_json);
  expect_error("\"celery\"", decode_reason::not_json);
  CHECK(reason_code(decode_reason::not_json) == "not_json");
}

TEST_CASE("bad_envelope") {
  auto env = sample_envelope();
  member(env, "body") = 12;
  auto e = expect_error(json::dump(env), decode_reason::bad_envelope);
  CHECK(e.task_id == sample_id);  // still known, so a FAILURE can be stored
  CHECK(e.task_name == "wireapp.add");

  env = sample_envelope();
  member(env, "headers") = json::array{};
  expect_error(json::dump(env), decode_reason::bad_envelope);
}

TEST_CASE("unsupported_content_type: JSON only, by design") {
  for (std::string_view type : {"application/x-python-serialize", "application/x-yaml", "application/x-msgpack",
                                "text/plain"}) {
    auto env = sample_envelope();
    member(env, "content-type") = type;
    auto e = expect_error(json::dump(env), decode_reason::unsupported_content_type);
    CHECK(e.task_id == sample_id);
    CHECK(e.message.find("JSON only") != std::string::npos);
    CHECK(e.message.find(type) != std::string::npos);
  }
  auto env = sample_envelope();
  member(env, "content-type") = "application/x-python-serialize";
  CHECK(expect_error(json::dump(env), decode_reason::unsupported_content_type).message.find("pickle") !=
        std::string::npos);
  CHECK(reason_code(decode_reason::unsupported_content_type) == "unsupported_content_type");
}

TEST_CASE("unsupported_content_encoding") {
  auto env = sample_envelope();
  member(env, "content-encoding") = "binary";
  expect_error(json::dump(env), decode_reason::unsupported_content_encoding);
}

TEST_CASE("bad_body_encoding") {
  auto env = sample_envelope();
  member(env, "body") = "not base64!";
  auto e = expect_error(json::dump(env), decode_reason::bad_body_encoding);
  CHECK(e.task_id == sample_id);

  env = sample_envelope();
  member(member(env, "properties"), "body_encoding") = "rot13";
  expect_error(json::dump(env), decode_reason::bad_body_encoding);
}

TEST_CASE("bad_body") {
  auto env = sample_envelope();
  expect_error(with_body(env, "not json"), decode_reason::bad_body);
  expect_error(with_body(env, "{}"), decode_reason::bad_body);
  expect_error(with_body(env, "[[], {}]"), decode_reason::bad_body);
  expect_error(with_body(env, "[{}, {}, null]"), decode_reason::bad_body);        // args not a list
  expect_error(with_body(env, "[[], [], null]"), decode_reason::bad_body);        // kwargs not an object
  expect_error(with_body(env, "[[], {}, 5]"), decode_reason::bad_body);           // embed
  expect_error(with_body(env, R"([[], {}, {"chain": {}}])"), decode_reason::bad_body);
  expect_error(with_body(env, R"([[], {}, {"callbacks": [1]}])"), decode_reason::bad_body);
  expect_error(with_body(env, R"([[], {}, {"errbacks": [{"args": []}]}])"), decode_reason::bad_body);
  auto e = expect_error(with_body(env, R"([[], {}, {"chord": "x"}])"), decode_reason::bad_body);
  CHECK(e.task_id == sample_id);
  CHECK(decode_message(with_body(env, R"([[], {}, {"chain": [{"task": "t"}]}])")));
}

TEST_CASE("protocol_v1 is refused clearly") {
  std::string v1 =
      R"({"body": "eyJ0YXNrIjogInRhc2tzLmFkZCIsICJpZCI6ICJhYmMiLCAiYXJncyI6IFsxLCAyXSwgImt3YXJncyI6IHt9fQ==",)"
      R"( "content-encoding": "utf-8", "content-type": "application/json", "headers": {},)"
      R"( "properties": {"correlation_id": "abc", "delivery_info": {"exchange": "", "routing_key": "celery"},)"
      R"( "priority": 0, "body_encoding": "base64", "delivery_tag": "t"}})";
  REQUIRE(util::base64_decode("eyJ0YXNrIjogInRhc2tzLmFkZCIsICJpZCI6ICJhYmMiLCAiYXJncyI6IFsxLCAyXSwgImt3YXJncyI6IHt9fQ==") ==
          std::string(R"({"task": "tasks.add", "id": "abc", "args": [1, 2], "kwargs": {}})"));
  auto e = expect_error(v1, decode_reason::protocol_v1);
  CHECK(e.task_id == "abc");
  CHECK(e.task_name == "tasks.add");
  CHECK(e.message.find("protocol 1") != std::string::npos);
}

TEST_CASE("missing_header") {
  auto env = sample_envelope();
  auto& headers = member(env, "headers").as_object();
  std::erase_if(headers, [](const json::member& m) { return m.first == "task"; });
  auto e = expect_error(json::dump(env), decode_reason::missing_header);
  CHECK(e.task_id == sample_id);

  env = sample_envelope();
  auto& h2 = member(env, "headers").as_object();
  std::erase_if(h2, [](const json::member& m) { return m.first == "id"; });
  e = expect_error(json::dump(env), decode_reason::missing_header);
  CHECK(e.task_id == sample_id);  // from properties.correlation_id
  CHECK(e.task_name == "wireapp.add");
}

TEST_CASE("bad_header") {
  struct corruption {
    std::string_view header;
    json::value value;
  };
  const corruption cases[] = {
      {"id", 5},
      {"retries", "3"},
      {"eta", "tomorrow"},
      {"eta", 1},
      {"expires", "2026-13-45T00:00:00"},
      {"group_index", "0"},
      {"timelimit", json::array{1}},
      {"timelimit", json::array{"a", nullptr}},
      {"timelimit", 5},
      {"ignore_result", "yes"},
      {"argsrepr", json::array{}},
      {"root_id", 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.header);
    CAPTURE(c.value);
    auto env = sample_envelope();
    member(env, "headers").set(c.header, c.value);
    auto e = expect_error(json::dump(env), decode_reason::bad_header);
    CHECK(e.message.find(c.header) != std::string::npos);
  }
}

TEST_CASE("bad_property") {
  struct corruption {
    std::string_view property;
    json::value value;
  };
  const corruption cases[] = {
      {"priority", "high"},
      {"delivery_info", "celery"},
      {"delivery_tag", 7},
      {"reply_to", json::object{}},
      {"expiration", json::array{}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.property);
    auto env = sample_envelope();
    member(env, "properties").set(c.property, c.value);
    auto e = expect_error(json::dump(env), decode_reason::bad_property);
    CHECK(e.task_id == sample_id);
  }
}

TEST_CASE("every reason has a distinct code") {
  const decode_reason all[] = {decode_reason::not_json,          decode_reason::bad_envelope,
                               decode_reason::unsupported_content_type,
                               decode_reason::unsupported_content_encoding,
                               decode_reason::bad_body_encoding, decode_reason::bad_body,
                               decode_reason::protocol_v1,       decode_reason::missing_header,
                               decode_reason::bad_header,        decode_reason::bad_property};
  for (auto a : all)
    for (auto b : all)
      if (a != b) CHECK(reason_code(a) != reason_code(b));
}

// Garbage must never crash the decoder: every input yields a message or an
// error. Run under CELERIAC_SANITIZE for the full benefit.
TEST_CASE("mutated and truncated samples never crash the decoder") {
  std::mt19937 rng(20261122);
  std::size_t decoded = 0, refused = 0;
  auto feed = [&](const std::string& input) {
    auto m = decode_message(input);
    if (m) {
      ++decoded;
      // A message that decodes re-encodes and decodes again identically.
      auto again = decode_message(encode_message(*m));
      REQUIRE(again);
      CHECK(encode_message(*again) == encode_message(*m));
    } else {
      ++refused;
      CHECK_FALSE(reason_code(m.error().reason).empty());
    }
  };

  for (auto name : test::task_message_samples) {
    const std::string original = wire_fixture(name);
    // Every truncation point.
    for (std::size_t n = 0; n < original.size(); n += 3) feed(original.substr(0, n));
    // Random byte flips, insertions and deletions.
    std::uniform_int_distribution<std::size_t> pos(0, original.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int round = 0; round < 150; ++round) {
      std::string s = original;
      int edits = 1 + round % 4;
      for (int k = 0; k < edits; ++k) {
        std::size_t p = pos(rng) % s.size();
        switch (rng() % 3) {
          case 0: s[p] = static_cast<char>(byte(rng)); break;
          case 1: s.insert(s.begin() + static_cast<long>(p), static_cast<char>(byte(rng))); break;
          default: s.erase(p, 1); break;
        }
      }
      feed(s);
    }
    // Corrupt the decoded body instead of the envelope, so the inner JSON
    // and embed validation get exercised too.
    auto env = *json::parse(original);
    std::string body = *util::base64_decode(member(env, "body").as_string());
    std::uniform_int_distribution<std::size_t> bpos(0, body.size() - 1);
    for (int round = 0; round < 60; ++round) {
      std::string b = body;
      b[bpos(rng)] = "[]{},:\"0 anxt"[rng() % 13];
      feed(with_body(env, b));
      feed(with_body(env, body.substr(0, bpos(rng))));
    }
  }
  MESSAGE("decoded " << decoded << ", refused " << refused);
  CHECK(decoded > 0);
  CHECK(refused > 1000);
}
