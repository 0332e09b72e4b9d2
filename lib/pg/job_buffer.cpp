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

job_buffer::slot& job_buffer::slot_for_(job_update& u) {
  if (auto it = slots_.find(u.task_id); it != slots_.end()) return it->second;
  slot_map::iterator it;
  if (spare_.empty()) {
    it = slots_.emplace(std::move(u.task_id), slot{}).first;
  } else {
    slot_map::node_type node = std::move(spare_.back());
    spare_.pop_back();
    node.key().assign(u.task_id);  // into the old key's buffer
    node.mapped() = slot{};
    it = slots_.insert(std::move(node)).position;
  }
  it->second.id = &it->first;
  return it->second;
}

void job_buffer::hold_(slot& s, job_update&& u) {
  s.pending = std::move(u);
  s.pending->task_id = std::string();
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
  if (nonfinal_.head) {
    drop_pending_(slots_.find(*nonfinal_.head->id));
    ++dropped_nonfinal_;
    return std::nullopt;
  }
  std::string id = *final_.head->id;
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
  slot& s = slot_for_(u);
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
  hold_(s, std::move(u));
  s.seq = ++last_seq_;
  enqueue_(s, false);
  return dropped;
}

std::string_view job_buffer::batch::task_id(std::size_t i) const noexcept { return *slots_[i]->id; }

const job_update& job_buffer::batch::update(std::size_t i) const noexcept { return *slots_[i]->writing; }

std::vector<job_ref> job_buffer::batch::refs() const {
  std::vector<job_ref> out;
  out.reserve(slots_.size());
  for (const slot* s : slots_) out.push_back({*s->id, &*s->writing});
  return out;
}

job_buffer::batch job_buffer::take(std::size_t max, std::uint64_t up_to) {
  batch out;
  take(max, up_to, out);
  return out;
}

void job_buffer::take(std::size_t max, std::uint64_t up_to, batch& out) {
  out.slots_.clear();
  out.slots_.reserve(std::min(max, pending_));
  for (queue* q : {&final_, &nonfinal_}) {
    for (slot* s = q->head; s && out.slots_.size() < max;) {
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
      s->writing = std::move(s->pending);
      s->pending.reset();
      out.slots_.push_back(s);
      s = next;
    }
  }
  std::sort(out.slots_.begin(), out.slots_.end(), [](const slot* a, const slot* b) { return *a->id < *b->id; });
  pending_ -= out.slots_.size();
  in_flight_ += out.slots_.size();
}

void job_buffer::written(batch& b) {
  for (slot* s : b.slots_) {
    s->writing.reset();
    s->in_flight = false;
    --in_flight_;
    if (!s->pending) recycle_(*s);
  }
  b.slots_.clear();
}

std::vector<std::string> job_buffer::put_back(batch& b) {
  std::vector<std::string> dropped;
  for (slot* sp : b.slots_) {
    slot& s = *sp;
    job_update older = std::move(*s.writing);
    s.writing.reset();
    s.in_flight = false;
    --in_flight_;
    if (s.pending) {
      const bool was_final = is_final(s.pending->state);
      merge_into(older, std::move(*s.pending));
      hold_(s, std::move(older));
      refile_(s, was_final);
      continue;
    }
    if (pending_ >= capacity_) {
      // The returning update is the oldest of all: when only final states
      // are pending and it is not final, it is the one to lose.
      if (!nonfinal_.head && !is_final(older.state)) {
        ++dropped_nonfinal_;
        recycle_(s);
        continue;
      }
      if (auto id = evict_one_()) dropped.push_back(std::move(*id));
    }
    hold_(s, std::move(older));
    s.seq = 0;
    enqueue_(s, true);
  }
  b.slots_.clear();
  return dropped;
}

}  // namespace celeriac::pg
