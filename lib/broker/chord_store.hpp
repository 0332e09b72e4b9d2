#pragma once
// A chord's counter in Celery 5.2's Redis result backend, written the way
// celery/backends/redis.py on_chord_part_return reads it, so celeriac and
// Celery workers count the same chord together (keys: celery/chord_join.hpp).
//
// What differs from Celery, on purpose:
//   - a header task's result meta and its .j member are written in one Lua
//     step (Celery: SETEX, then a MULTI), so a worker dying in between
//     cannot leave a result without its count or the reverse;
//   - a second run of a header task (at-least-once redelivery) replaces its
//     own member instead of adding one, so it never counts twice; a stored
//     SUCCESS member is kept, as a stored SUCCESS result is;
//   - completing the chord is one Lua step guarded by the size key (.s):
//     the first completer deletes the keys and, when results live on the
//     broker's Redis, sends the body in that same step; anyone else finds
//     .s gone and does nothing. The body is therefore sent exactly once even
//     when two workers see the count complete at the same moment (the
//     completing task and a late second run of another member).
//
// One chord_store serves one connection (the result backend's) from one
// io_context thread.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "broker/kombu_transport.hpp"
#include "broker/queue_name.hpp"
#include "celery/chord_join.hpp"
#include "redis/connection.hpp"

namespace celeriac::broker {

// A header task's outcome, to store together with its own result.
struct chord_join_write {
  celery::chord_keys keys;
  std::string member;         // celery::chord_part::member()
  std::string score;          // its group_index, or "+inf"
  std::string member_prefix;  // how any member of the same task starts
  std::optional<result_write> meta;  // the task's own result (none with ignore_result)
};

struct chord_join_result {
  enum class status {
    pending,   // not complete yet, or already completed by someone else
    complete,  // this member completed the count: the caller completes the chord
    bad_size,  // .s or .t does not hold a number
  };
  status state = status::pending;
  std::vector<std::string> members;  // .j in zset order (complete)
  std::optional<std::string> saved;  // the saved GroupResult, when the header has one
  std::string size_text;             // what .s held (bad_size)
};

// A message sent when a chord completes.
struct chord_publish {
  queue_name queue;
  int priority = 0;
  std::string envelope;
};

// What completing a chord writes besides deleting its keys.
struct chord_effects {
  // SET (SETEX with the TTL) and PUBLISH, as Celery's backend set(): the
  // size of a chord the body starts, a saved GroupResult.
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<result_write> metas;       // never over a stored SUCCESS
  std::vector<chord_publish> publishes;  // LPUSHed with the queue's binding
};

class chord_store {
public:
  // ttl: the result expiry, also given to the chord keys (0: none).
  chord_store(redis::connection& conn, std::chrono::seconds ttl);

  // One step: stores w.meta, adds (or replaces) the member, refreshes the
  // keys' expiry and compares ZCARD .j with int(.s) + int(.t or 0).
  boost::asio::awaitable<chord_join_result> async_join(const chord_join_write& w);

  // One step, only if .s still exists: deletes .j, .t and .s and writes
  // the effects. Returns false when the chord was completed already.
  boost::asio::awaitable<bool> async_complete(const celery::chord_keys& keys, const chord_effects& effects);

  // True while the chord is not completed (.s exists).
  boost::asio::awaitable<bool> async_pending(const celery::chord_keys& keys);

  // SET(EX) + PUBLISH of each value, unguarded: chord sizes written before
  // a chord's header is sent.
  boost::asio::awaitable<void> async_set_values(const std::vector<std::pair<std::string, std::string>>& values);

  // MGET: stored result metas (nullopt where none).
  boost::asio::awaitable<std::vector<std::optional<std::string>>> async_read(const std::vector<std::string>& keys);

private:
  redis::connection& conn_;
  std::chrono::seconds ttl_;
};

}  // namespace celeriac::broker
