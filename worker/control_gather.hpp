#pragma once
// One reply per node from several processes. A node is a supervisor and
// its children, and every child hears each pidbox request; Celery's client
// wants exactly one reply per node name (it warns about duplicates and
// keeps the last). So for requests whose answer lives in every child
// (`inspect active`, `reserved`, `scheduled`, `query_task`, `stats`), each
// other child leaves its part in a short-lived Redis list keyed by the
// request's ticket, and the first child collects them, merges, and
// replies alone. A child's handlers keep running while it runs a task, so parts come
// within milliseconds even while every child is busy; a child that does
// not answer in time (starting, dying) is left out rather than holding the
// reply past Celery's 1 s timeout.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "json/value.hpp"
#include "redis/connection.hpp"

namespace celeriac::worker {

// "celeriac.control.<node>.<ticket>": a list of the other children's parts.
std::string gather_key(std::string_view node, std::string_view ticket);

// Adds this child's part (expires after a few seconds if nobody collects).
boost::asio::awaitable<void> async_contribute(redis::connection& conn, const std::string& key, json::value part);

// Waits until `expected` parts are in (or `limit` passed), deletes the
// list and returns the parts that came. Parts that are not JSON are
// dropped (logged).
boost::asio::awaitable<std::vector<json::value>> async_collect(redis::connection& conn, const std::string& key,
                                                               std::size_t expected, std::chrono::milliseconds limit);

}  // namespace celeriac::worker
