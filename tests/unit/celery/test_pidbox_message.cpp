// Remote-control (pidbox) requests and replies against Celery 5.2.6's
// captured bytes: decoding every sample, re-encoding it byte for byte,
// addressing rules, and garbage.

#include <doctest/doctest.h>

#include "celery/pidbox_message.hpp"
#include "json/dump.hpp"
#include "json/parse.hpp"
#include "unit/celery/fixtures.hpp"
#include "util/base64.hpp"

using namespace celeriac;
using namespace celeriac::celery;
using celeriac::test::wire_fixture;

namespace {

constexpr std::string_view request_samples[] = {
    "pidbox_ping_request.json",
    "pidbox_ping_extra_destination_request.json",
    "pidbox_revoke_request.json",
    "pidbox_revoke_extra_noreply_request.json",
    "pidbox_revoke_extra_noreply_terminate_request.json",
    "pidbox_active_extra_request.json",
    "pidbox_scheduled_extra_request.json",
    "pidbox_hello_request.json",
    "pidbox_hello_extra_request.json",
};

constexpr std::string_view reply_samples[] = {
    "pidbox_ping_reply.json",
    "pidbox_ping_extra_destination_reply.json",
    "pidbox_revoke_reply.json",
    "pidbox_active_extra_reply.json",
    "pidbox_scheduled_extra_reply.json",
};

control_request decoded_request(std::string_view sample) {
  auto r = decode_control_request(wire_fixture(sample));
  REQUIRE_MESSAGE(r.has_value(), sample << ": " << r.error());
  return std::move(*r);
}

// A kombu-shaped envelope around an arbitrary body text.
std::string envelope_with_body(std::string_view body) {
  return R"({"body": ")" + util::base64_encode(body) +
         R"(", "content-encoding": "utf-8", "content-type": "application/json", "headers": {}, )"
         R"("properties": {"body_encoding": "base64"}})";
}

}  // namespace

TEST_CASE("every captured request decodes and re-encodes to kombu's exact bytes") {
  for (auto sample : request_samples) {
    CAPTURE(sample);
    const std::string raw = wire_fixture(sample);
    auto r = decode_control_request(raw);
    REQUIRE_MESSAGE(r.has_value(), r.error());
    CHECK(encode_control_request(*r) == raw);
  }
}

TEST_CASE("every captured reply decodes and re-encodes to kombu's exact bytes") {
  for (auto sample : reply_samples) {
    CAPTURE(sample);
    const std::string raw = wire_fixture(sample);
    auto r = decode_control_reply(raw);
    REQUIRE_MESSAGE(r.has_value(), r.error());
    CHECK(encode_control_reply(*r) == raw);
  }
}

TEST_CASE("a ping request's fields") {
  auto r = decoded_request("pidbox_ping_request.json");
  CHECK(r.method == "ping");
  CHECK(r.arguments.empty());
  CHECK_FALSE(r.destination.has_value());
  CHECK_FALSE(r.pattern.has_value());
  CHECK(r.ticket == "1deacded-3c91-4d86-ab05-d23df39a2637");
  REQUIRE(r.reply_to.has_value());
  CHECK(r.reply_to->exchange == "reply.celery.pidbox");
  CHECK(r.reply_to->routing_key == "443423a7-e466-3263-8b73-20801674c7b1");
  CHECK(r.wants_reply());
  CHECK(r.clock == 1);
  CHECK(r.expires == doctest::Approx(1795313582.7740393));
  CHECK(r.delivery_tag == "db52a85a-9b0e-44f5-8e09-5fbbb69531ae");
}

TEST_CASE("a revoke without reply: no ticket, no reply_to, expires 0") {
  auto r = decoded_request("pidbox_revoke_extra_noreply_request.json");
  CHECK(r.method == "revoke");
  CHECK_FALSE(r.wants_reply());
  CHECK_FALSE(r.ticket.has_value());
  CHECK(r.expires == 0);
  CHECK(json::dump(json::value(r.arguments)) ==
        R"({"task_id": "19c65803-7ed5-4149-bc9a-4fa780b209a6", "terminate": false, "signal": null})");
}

TEST_CASE("addressed_to: destination list, pattern with matcher, or everyone") {
  auto r = decoded_request("pidbox_ping_extra_destination_request.json");
  REQUIRE(r.destination.has_value());
  CHECK(r.addressed_to("ws@wire"));
  CHECK_FALSE(r.addressed_to("w1@wire"));

  control_request all;
  all.method = "ping";
  CHECK(all.addressed_to("anyone@host"));
  all.destination = std::vector<std::string>{};  // an empty list is "everyone", as kombu's `if destination:`
  CHECK(all.addressed_to("anyone@host"));

  control_request glob;
  glob.pattern = "celeriac@*";
  glob.matcher = "glob";
  CHECK(glob.addressed_to("celeriac@host1"));
  CHECK_FALSE(glob.addressed_to("celery@host1"));

  control_request pcre;
  pcre.pattern = "w[0-9]+@";
  pcre.matcher = "pcre";
  CHECK(pcre.addressed_to("w12@host"));          // re.match anchors at the start only
  CHECK_FALSE(pcre.addressed_to("xw12@host"));
  pcre.pattern = "([";                            // a broken regex matches nothing
  CHECK_FALSE(pcre.addressed_to("w12@host"));

  control_request unknown;
  unknown.pattern = "*";
  unknown.matcher = "soundex";
  CHECK_FALSE(unknown.addressed_to("w1@host"));

  control_request pattern_only;  // pattern without matcher: kombu ignores it
  pattern_only.pattern = "nomatch";
  CHECK(pattern_only.addressed_to("w1@host"));
}

TEST_CASE("a reply to a captured request is byte-identical to Celery's worker's") {
  auto req = decoded_request("pidbox_ping_request.json");
  control_reply reply{.node = "w1@wire",
                      .value = control_ok("pong"),
                      .ticket = req.ticket,
                      .clock = 3,
                      .to = *req.reply_to,
                      .delivery_tag = "1be382fb-0c94-4dce-9896-32a0141848ae"};
  CHECK(encode_control_reply(reply) == wire_fixture("pidbox_ping_reply.json"));

  auto revoke = decoded_request("pidbox_revoke_request.json");
  control_reply revoked{.node = "w1@wire",
                        .value = control_ok("tasks c89951be-2555-4a83-a4b8-21fd4db10f39 flagged as revoked"),
                        .ticket = revoke.ticket,
                        .clock = 5,
                        .to = *revoke.reply_to,
                        .delivery_tag = "820ca5ac-7dbd-4534-b77d-2dc378674763"};
  CHECK(encode_control_reply(revoked) == wire_fixture("pidbox_revoke_reply.json"));
}

TEST_CASE("a request built from fields matches Celery's client's bytes") {
  control_request r;
  r.method = "revoke";
  r.arguments = json::object{{"task_id", json::value(json::array{"c89951be-2555-4a83-a4b8-21fd4db10f39"})}};
  r.ticket = "2af41260-a986-4920-8872-5800ce3aa2df";
  r.reply_to = reply_address{.routing_key = "4f68b0fd-a97c-3271-89c0-ebc9b9e056fb"};
  r.clock = 1;
  r.expires = 1795313585.279551;
  r.delivery_tag = "40287745-c1ac-4977-b8f2-33802872c1f5";
  CHECK(encode_control_request(r) == wire_fixture("pidbox_revoke_request.json"));
}

TEST_CASE("names: channel, binding members, reply queue") {
  CHECK(pidbox_channel(0) == "/0.celery.pidbox");
  CHECK(pidbox_channel(3) == "/3.celery.pidbox");
  CHECK(pidbox_binding_member("w1@wire") == std::string("\x06\x16\x06\x16w1@wire.celery.pidbox"));
  CHECK(exchange_binding_key("reply.celery.pidbox") == "_kombu.binding.reply.celery.pidbox");
  CHECK(pidbox_reply_queue("ab") == "ab.reply.celery.pidbox");
  CHECK(pidbox_reply_binding_member("ab") == std::string("ab\x06\x16\x06\x16" "ab.reply.celery.pidbox"));
}

TEST_CASE("garbage is refused with a reason, never thrown") {
  auto refused = [](std::string_view text) {
    auto r = decode_control_request(text);
    CHECK_FALSE(r.has_value());
    return r ? std::string() : r.error().message;
  };
  CHECK(refused("not json at all").find("not a JSON object") != std::string::npos);
  CHECK(refused("[1, 2]").find("not a JSON object") != std::string::npos);
  CHECK(refused(R"({"content-type": "application/x-python-serialize", "body": "gAJ9cQAu"})").find("content-type") !=
        std::string::npos);
  CHECK(refused(R"({"body": 5})").find("no string body") != std::string::npos);
  CHECK(refused(R"({"body": "!!!", "properties": {"body_encoding": "base64"}})").find("base64") !=
        std::string::npos);
  CHECK(refused(envelope_with_body("[1]")).find("not a JSON object") != std::string::npos);
  CHECK(refused(envelope_with_body(R"({"arguments": {}})")).find("method") != std::string::npos);
  CHECK(refused(envelope_with_body(R"({"method": "ping", "arguments": [1]})")).find("arguments") !=
        std::string::npos);
  CHECK(refused(envelope_with_body(R"({"method": "ping", "destination": "w1"})")).find("destination") !=
        std::string::npos);
  CHECK(refused(envelope_with_body(R"({"method": "ping", "destination": [1]})")).find("destination") !=
        std::string::npos);
  CHECK(refused(envelope_with_body(R"({"method": "ping", "ticket": 7})")).find("ticket") != std::string::npos);
  CHECK(refused(envelope_with_body(R"({"method": "ping", "reply_to": "x"})")).find("reply_to") !=
        std::string::npos);

  CHECK_FALSE(decode_control_reply(envelope_with_body("{}")).has_value());
  CHECK_FALSE(decode_control_reply("{").has_value());
}

TEST_CASE("a minimal request: absent optional fields take kombu's defaults") {
  auto r = decode_control_request(envelope_with_body(R"({"method": "ping", "arguments": null})"));
  REQUIRE(r.has_value());
  CHECK(r->arguments.empty());
  CHECK(r->clock == 0);
  CHECK(r->expires == 0);
  CHECK(r->addressed_to("anyone"));
}
