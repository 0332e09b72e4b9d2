#include "celery/revoked_set.hpp"

#include <algorithm>

namespace celeriac::celery {

revoked_set::revoked_set(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

void revoked_set::add(std::string id, util::wall_time expires_at) {
  if (auto it = expiry_.find(id); it != expiry_.end()) {
    if (expires_at <= it->second) return;
    by_expiry_.erase({it->second, it->first});
    it->second = expires_at;
    by_expiry_.emplace(expires_at, it->first);
    return;
  }
  if (expiry_.size() >= capacity_) {
    auto oldest = by_expiry_.begin();
    if (expires_at <= oldest->first) return;  // would be the first evicted anyway
    expiry_.erase(oldest->second);
    by_expiry_.erase(oldest);
  }
  by_expiry_.emplace(expires_at, id);
  expiry_.emplace(std::move(id), expires_at);
}

bool revoked_set::contains(std::string_view id, util::wall_time now) const {
  auto it = expiry_.find(id);
  return it != expiry_.end() && it->second > now;
}

std::size_t revoked_set::purge(util::wall_time now) {
  std::size_t dropped = 0;
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    expiry_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
    ++dropped;
  }
  return dropped;
}

void revoked_set::erase(std::string_view id) {
  auto it = expiry_.find(id);
  if (it == expiry_.end()) return;
  by_expiry_.erase({it->second, it->first});
  expiry_.erase(it);
}

std::vector<std::string> revoked_set::ids(util::wall_time now) const {
  std::vector<std::string> out;
  for (auto it = by_expiry_.upper_bound({now, std::string()}); it != by_expiry_.end(); ++it)
    if (it->first > now) out.push_back(it->second);
  return out;
}

}  // namespace celeriac::celery
