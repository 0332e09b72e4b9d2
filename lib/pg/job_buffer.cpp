#include "pg/job_buffer.hpp"

#include <algorithm>
#include <utility>

namespace celeriac::pg {

job_buffer::job_buffer(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

std::optional<std::string> job_buffer::evict_one_() {
  if (!nonfinal_.empty()) {
    entries_.erase(nonfinal_.front());
    nonfinal_.pop_front();
    ++dropped_nonfinal_;
    return std::nullopt;
  }
  std::string id = std::move(final_.front());
  final_.pop_front();
  entries_.erase(id);
  ++dropped_final_;
  return id;
}

void job_buffer::refile_(entry& e, bool was_final) {
  if (was_final || !is_final(e.update.state)) return;
  final_.splice(final_.end(), nonfinal_, e.position);
}

void job_buffer::insert_(job_update u, bool oldest, std::uint64_t seq) {
  order_list& list = is_final(u.state) ? final_ : nonfinal_;
  auto position = oldest ? list.insert(list.begin(), u.task_id) : list.insert(list.end(), u.task_id);
  std::string key = u.task_id;
  entries_.emplace(std::move(key), entry{std::move(u), position, seq});
}

std::optional<std::string> job_buffer::add(job_update u) {
  if (auto it = entries_.find(u.task_id); it != entries_.end()) {
    const bool was_final = is_final(it->second.update.state);
    merge_into(it->second.update, std::move(u));
    refile_(it->second, was_final);
    return std::nullopt;
  }
  std::optional<std::string> dropped;
  if (entries_.size() >= capacity_) dropped = evict_one_();
  insert_(std::move(u), false, ++last_seq_);
  return dropped;
}

std::vector<job_update> job_buffer::take(std::size_t max, std::uint64_t up_to) {
  std::vector<job_update> out;
  out.reserve(std::min(max, entries_.size()));
  for (order_list* list : {&final_, &nonfinal_}) {
    for (auto pos = list->begin(); out.size() < max && pos != list->end();) {
      if (in_flight_.count(*pos)) {  // its previous write has not returned yet
        ++pos;
        continue;
      }
      auto it = entries_.find(*pos);
      if (it->second.seq > up_to) {  // arrived after this flush began
        // nonfinal_ is in add() order, so the rest arrived later too;
        // final_ is not (updates that became final join its end).
        if (list == &nonfinal_) break;
        ++pos;
        continue;
      }
      in_flight_.insert(*pos);
      out.push_back(std::move(it->second.update));
      entries_.erase(it);
      pos = list->erase(pos);
    }
  }
  std::sort(out.begin(), out.end(), [](const job_update& a, const job_update& b) { return a.task_id < b.task_id; });
  return out;
}

void job_buffer::written(const std::vector<job_update>& batch) {
  for (const auto& u : batch) in_flight_.erase(u.task_id);
}

std::vector<std::string> job_buffer::put_back(std::vector<job_update> failed) {
  std::vector<std::string> dropped;
  for (auto& older : failed) {
    in_flight_.erase(older.task_id);
    if (auto it = entries_.find(older.task_id); it != entries_.end()) {
      entry& e = it->second;
      const bool was_final = is_final(e.update.state);
      merge_into(older, std::move(e.update));
      e.update = std::move(older);
      refile_(e, was_final);
      continue;
    }
    if (entries_.size() >= capacity_) {
      // The returning update is the oldest of all: when only final states
      // are pending and it is not final, it is the one to lose.
      if (nonfinal_.empty() && !is_final(older.state)) {
        ++dropped_nonfinal_;
        continue;
      }
      if (auto id = evict_one_()) dropped.push_back(std::move(*id));
    }
    insert_(std::move(older), true, 0);
  }
  return dropped;
}

}  // namespace celeriac::pg
