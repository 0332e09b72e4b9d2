#include "admin/redis_calls.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace celeriac::admin {
namespace {

[[noreturn]] void fail(std::string_view what, const resp::value& reply) {
  if (reply.is_error()) throw redis_failure(fmt::format("Redis refused {}: {}", what, reply.error_message()));
  throw redis_failure(fmt::format("unexpected reply to {}: {}", what, reply.to_debug_string()));
}

void check_all(const std::vector<resp::value>& replies, std::string_view what) {
  for (const auto& r : replies)
    if (r.is_error()) fail(what, r);
}

void push_call(redis::request& req, const redis::script& s, const script_call& c) {
  redis::push_evalsha(req, s, c.keys, c.args);
}

}  // namespace

std::vector<resp::value> exec_checked(redis::sync_client& client, const redis::request& req, std::string_view what) {
  auto replies = client.exec(req);
  check_all(replies, what);
  return replies;
}

std::vector<resp::value> eval_each(redis::sync_client& client, const redis::script& s,
                                   std::span<const script_call> calls, std::string_view what) {
  if (calls.empty()) return {};
  redis::request req;
  for (const auto& c : calls) push_call(req, s, c);
  auto replies = client.exec(req);
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < replies.size(); ++i)
    if (redis::is_noscript(replies[i])) missing.push_back(i);
  if (!missing.empty()) {
    redis::request load;
    load.push("SCRIPT", "LOAD", s.source());
    exec_checked(client, load, what);
    redis::request again;
    for (std::size_t i : missing) push_call(again, s, calls[i]);
    auto retried = client.exec(again);
    for (std::size_t k = 0; k < missing.size(); ++k) replies[missing[k]] = std::move(retried[k]);
  }
  check_all(replies, what);
  return replies;
}

resp::value eval(redis::sync_client& client, const redis::script& s, script_call call, std::string_view what) {
  return std::move(eval_each(client, s, std::span(&call, 1), what).front());
}

std::vector<std::string> scan_keys(redis::sync_client& client, std::string_view pattern) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    redis::request req;
    req.push("SCAN", cursor, "MATCH", pattern, "COUNT", 1000);
    auto reply = std::move(exec_checked(client, req, fmt::format("SCAN {}", pattern)).front());
    auto parts = reply.elements();
    if (!parts || parts->size() != 2) fail("SCAN", reply);
    cursor = string_reply((*parts)[0], "SCAN cursor");
    auto found = (*parts)[1].elements();
    if (!found) fail("SCAN", reply);
    for (const auto& k : *found) keys.push_back(string_reply(k, "SCAN key"));
  } while (cursor != "0");
  std::ranges::sort(keys);
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::int64_t integer_reply(const resp::value& v, std::string_view what) {
  auto n = v.as_integer();
  if (!n) fail(what, v);
  return *n;
}

std::string string_reply(const resp::value& v, std::string_view what) {
  auto s = v.as_string();
  if (!s) fail(what, v);
  return std::string(*s);
}

}  // namespace celeriac::admin
