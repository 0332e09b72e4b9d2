#pragma once
// State for the operator-command tests: Celery messages with chosen ids,
// priorities and tags, dead-letter entries as the worker writes them, and
// a client on a private Redis.

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "celery/dead_letter.hpp"
#include "celery/kombu_redis.hpp"
#include "celery/message_codec.hpp"
#include "redis/sync_client.hpp"
#include "unit/celery/fixtures.hpp"

namespace celeriac::test {

// A Celery 5.2 send_task message (the captured fixture) with its id, tag,
// queue and priority replaced.
inline std::string message(std::string_view id, std::string_view tag, std::string_view queue = "celery",
                           int priority = 0) {
  auto m = celery::decode_message(wire_fixture("send_task.json"));
  if (!m) throw std::runtime_error("the send_task.json fixture does not decode");
  m->headers.id = std::string(id);
  m->properties.correlation_id = std::string(id);
  m->properties.delivery_tag = std::string(tag);
  m->properties.delivery_info.routing_key = std::string(queue);
  m->properties.priority = priority;
  return celery::encode_message(*m);
}

inline std::string dead_entry_text(std::string_view reason, std::string_view queue, std::string_view raw) {
  return celery::dead_letter_entry(reason, "refused for the test", queue,
                                   *util::parse_iso8601("2026-11-22T02:12:47.800589+00:00"), raw);
}

inline std::unique_ptr<redis::sync_client> connect_to(const std::string& url) {
  auto c = std::make_unique<redis::sync_client>(*redis::parse_url(url));
  c->connect();
  return c;
}

}  // namespace celeriac::test
