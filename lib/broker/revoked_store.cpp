#include "broker/revoked_store.hpp"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace celeriac::broker {
namespace {

using boost::asio::awaitable;

// Scores as unix seconds with microseconds, the precision of wall_time.
std::string score_text(util::wall_time t) { return fmt::format("{:.6f}", util::unix_seconds(t)); }

const resp::value& checked(const std::vector<resp::value>& replies, std::string_view what) {
  const resp::value& v = replies.at(0);
  if (v.is_error())
    throw std::runtime_error(fmt::format("Redis refused {} on {}: {}", what, revoked_key, v.error_message()));
  return v;
}

}  // namespace

awaitable<void> revoked_store::async_add(std::span<const std::string> task_ids, util::wall_time expires_at) {
  if (task_ids.empty()) co_return;
  const std::string score = score_text(expires_at);
  std::vector<std::pair<std::string_view, std::string_view>> members;
  members.reserve(task_ids.size());
  for (const auto& id : task_ids) members.emplace_back(score, id);
  redis::request req;
  req.push("ZADD", revoked_key, "GT", members);
  auto replies = co_await conn_.async_exec(req);
  checked(replies, "adding revoked task ids");
}

awaitable<std::vector<revoked_entry>> revoked_store::async_load(util::wall_time now, std::size_t limit) {
  redis::request req;
  req.push("ZRANGE", revoked_key, "+inf", "(" + score_text(now), "BYSCORE", "REV", "LIMIT", 0, limit, "WITHSCORES");
  auto replies = co_await conn_.async_exec(req);
  const resp::value& v = checked(replies, "reading revoked task ids");
  std::vector<revoked_entry> out;
  auto elems = v.elements();
  if (!elems) co_return out;
  for (std::size_t i = 0; i + 1 < elems->size(); i += 2) {
    auto id = (*elems)[i].as_string();
    auto score_bytes = (*elems)[i + 1].as_string();
    if (!id || !score_bytes) continue;
    double score = 0;
    auto [end, ec] = std::from_chars(score_bytes->data(), score_bytes->data() + score_bytes->size(), score);
    if (ec != std::errc()) continue;
    out.push_back(revoked_entry{std::string(*id), util::from_unix_seconds(score)});
  }
  co_return out;
}

awaitable<std::size_t> revoked_store::async_load_into(celery::revoked_set& into, util::wall_time now) {
  auto entries = co_await async_load(now, into.capacity());
  for (auto& e : entries) into.add(std::move(e.task_id), e.expires_at);
  co_return entries.size();
}

awaitable<std::int64_t> revoked_store::async_drop_expired(util::wall_time now) {
  redis::request req;
  req.push("ZREMRANGEBYSCORE", revoked_key, "-inf", score_text(now));
  auto replies = co_await conn_.async_exec(req);
  auto dropped = checked(replies, "dropping expired revoked task ids").as_integer();
  co_return dropped ? *dropped : 0;
}

}  // namespace celeriac::broker
