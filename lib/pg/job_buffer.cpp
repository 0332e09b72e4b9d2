#include "pg/job_buffer.hpp"

#include <algorithm>
#include <utility>

namespace celeriac::pg {

void job_buffer::queue::push_back(slot* s) noexcept {
  s->prev = tail;
  s->next = nullptr;
  (tail ? tail->next : head) = s;
  tail = s;
}

void job_buffer::queue::push_front(slot* s) noexcept {
  s->prev = nullptr;
  s->next = head;
  (head ? head->prev : tail) = s;
  head = s;
}

void job_buffer::queue::remove(slot* s) noexcept {
  (s->prev ? s->prev->next : head) = s->next;
  (s->next ? s->next->prev : tail) = s->prev;
  s->prev = s->next = nullptr;
}

job_buffer::job_buffer(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)), max_spare_(std::min<std::size_t>(capacity_, 8'192)) {}

job_buffer::slot& job_buffer::slot_for_(const std::string& task_id) {
  if (auto it = slots_.find(task_id); it != slots_.end()) return it->second;
  if (spare_.empty()) return slots_.try_emplace(task_id).first->second;
  slot_map::node_type node = std::move(spare_.back());
  spare_.pop_back();
  node.key() = task_id;
  node.mapped() = slot{};
  return slots_.insert(std::move(node)).position->second;
}

void job_buffer::recycle_(slot_map::iterator it) {
  if (spare_.size() < max_spare_) {
    spare_.push_back(slots_.extract(it));
  } else {
    slots_.erase(it);
  }
}

void job_buffer::drop_pending_(slot_map::iterator it) {
  slot& s = it->second;
  queue_for(s).remove(&s);
  s.pending.reset();
  --pending_;
  if (!s.in_flight) recycle_(it);
}

std::optional<std::string> job_buffer::evict_one_() {
  // The map is keyed by task id and a slot does not know its key: find the
  // victim's entry through the key of its pending update.
  if (nonfinal_.head) {
    drop_pending_(slots_.find(nonfinal_.head->pending->task_id));
    ++dropped_nonfinal_;
    return std::nullopt;
  }
  std::string id = final_.head->pending->task_id;
  drop_pending_(slots_.find(id));
  ++dropped_final_;
  return id;
}

void job_buffer::enqueue_(slot& s, bool oldest) {
  queue& q = queue_for(s);
  oldest ? q.push_front(&s) : q.push_back(&s);
  ++pending_;
}

void job_buffer::refile_(slot& s, bool was_final) {
  if (was_final || !is_final(s.pending->state)) return;
  nonfinal_.remove(&s);
  final_.push_back(&s);
}

std::optional<std::string> job_buffer::add(job_update&& u) {
  slot& s = slot_for_(u.task_id);
  if (s.pending) {
    const bool was_final = is_final(s.pending->state);
    merge_into(*s.pending, std::move(u));
    refile_(s, was_final);
    return std::nullopt;
  }
  // A new pending update (the slot is new, or its previous update is in
  // flight). Eviction only touches slots with a pending update, so not this one.
  std::optional<std::string> dropped;
  if (pending_ >= capacity_) dropped = evict_one_();
  s.pending = std::move(u);
  s.seq = ++last_seq_;
  enqueue_(s, false);
  return dropped;
}

std::vector<job_update> job_buffer::take(std::size_t max, std::uint64_t up_to) {
  std::vector<job_update> out;
  take(max, up_to, out);
  return out;
}

void job_buffer::take(std::size_t max, std::uint64_t up_to, std::vector<job_update>& out) {
  std::vector<std::pair<const std::string*, slot*>> chosen;
  chosen.reserve(std::min(max, pending_));
  for (queue* q : {&final_, &nonfinal_}) {
    for (slot* s = q->head; s && chosen.size() < max;) {
      slot* next = s->next;
      if (s->in_flight) {  // its previous write has not returned yet
        s = next;
        continue;
      }
      if (s->seq > up_to) {  // arrived after this flush began
        // nonfinal_ is in add() order, so the rest arrived later too;
        // final_ is not (updates that became final join its end).
        if (q == &nonfinal_) break;
        s = next;
        continue;
      }
      q->remove(s);
      s->in_flight = true;
      chosen.emplace_back(&s->pending->task_id, s);
      s = next;
    }
  }
  // Sorting pointers, not the updates (a few hundred bytes each).
  std::sort(chosen.begin(), chosen.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  out.reserve(out.size() + chosen.size());
  for (auto& [id, s] : chosen) {
    out.push_back(std::move(*s->pending));
    s->pending.reset();
  }
  pending_ -= chosen.size();
  in_flight_ += chosen.size();
}

void job_buffer::written(const std::vector<job_update>& batch) {
  for (const auto& u : batch) {
    auto it = slots_.find(u.task_id);
    if (it == slots_.end() || !it->second.in_flight) continue;
    it->second.in_flight = false;
    --in_flight_;
    if (!it->second.pending) recycle_(it);
  }
}

std::vector<std::string> job_buffer::put_back(std::vector<job_update> failed) {
  std::vector<std::string> dropped;
  for (auto& older : failed) {
    auto it = slots_.find(older.task_id);
    if (it == slots_.end() || !it->second.in_flight) continue;
    slot& s = it->second;
    s.in_flight = false;
    --in_flight_;
    if (s.pending) {
      const bool was_final = is_final(s.pending->state);
      merge_into(older, std::move(*s.pending));
      *s.pending = std::move(older);
      refile_(s, was_final);
      continue;
    }
    if (pending_ >= capacity_) {
      // The returning update is the oldest of all: when only final states
      // are pending and it is not final, it is the one to lose.
      if (!nonfinal_.head && !is_final(older.state)) {
        ++dropped_nonfinal_;
        recycle_(it);
        continue;
      }
      if (auto id = evict_one_()) dropped.push_back(std::move(*id));
    }
    s.pending = std::move(older);
    s.seq = 0;
    enqueue_(s, true);
  }
  return dropped;
}

}  // namespace celeriac::pg
