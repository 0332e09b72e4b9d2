#pragma once
// The job store's memory: at most one pending update per task id (newer
// observations are merged in), bounded in size.
//
// When full, room is made by dropping the oldest pending NON-final update:
// a lost PROGRESS is corrected by the next one, a lost SUCCESS is not. Only
// a buffer holding nothing but final states drops one of those, and the
// caller is told so it can log it. Not thread-safe: the job store guards it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pg/job_update.hpp"

namespace celeriac::pg {

class job_buffer {
  struct slot;

public:
  // capacity: most task ids held at once; 0 is taken as 1.
  explicit job_buffer(std::size_t capacity);

  // Updates taken for writing. They stay in the buffer, in flight, until
  // the batch goes back through written() or put_back(); the batch only
  // points at them.
  class batch {
  public:
    std::size_t size() const noexcept { return slots_.size(); }
    bool empty() const noexcept { return slots_.empty(); }
    std::string_view task_id(std::size_t i) const noexcept;
    const job_update& update(std::size_t i) const noexcept;
    // The batch as write_jobs takes it, in this batch's order.
    std::vector<job_ref> refs() const;

  private:
    friend class job_buffer;
    std::vector<slot*> slots_;
  };

  // Merges u into the pending update for its task id (u is newer), or adds
  // it, dropping another job's update when the buffer is full. Returns the
  // task id of a FINAL update dropped to make room, if one was.
  std::optional<std::string> add(job_update&& u);

  // Takes up to max pending updates into `out` (empty, or a batch handed
  // back already): final states first, then the rest, oldest first within
  // each, sorted by task id (so concurrent batches lock rows in one order
  // and cannot deadlock). The taken task ids are "in flight" until
  // written() or put_back(): a newer update for one of them stays pending
  // meanwhile, so two writes of one job never run at once and cannot land
  // out of order.
  // Only updates pending since add() number `up_to` or earlier are taken
  // (see last_added()): a flush then writes what was pending when it began,
  // and a job updated meanwhile waits for the next flush.
  void take(std::size_t max, std::uint64_t up_to, batch& out);
  batch take(std::size_t max, std::uint64_t up_to = UINT64_MAX);

  // Number of the latest add() that created a pending entry (merges into an
  // existing entry keep its number).
  std::uint64_t last_added() const noexcept { return last_seq_; }

  // The batch was written: its task ids may be taken again. Empties it.
  void written(batch& b);

  // The batch's write failed: its updates become pending again. They are
  // older than anything added since they were taken, so a pending update
  // for the same task id is merged on top of them. Empties the batch.
  // Returns the task ids of FINAL updates dropped to make room.
  std::vector<std::string> put_back(batch& b);

  // Task ids with a pending update (in flight ones not counted).
  std::size_t size() const noexcept { return pending_; }
  // Task ids taken and not yet written() or put_back().
  std::size_t in_flight() const noexcept { return in_flight_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return pending_ == 0; }
  std::uint64_t dropped_nonfinal() const noexcept { return dropped_nonfinal_; }
  std::uint64_t dropped_final() const noexcept { return dropped_final_; }

private:
  // Everything known about one task id: the update waiting to be written,
  // if any, and whether an earlier one is being written now. A slot lives
  // in the map while either is true; while it has a pending update it is
  // also linked into final_ or nonfinal_ (by the update's state). The links
  // are intrusive, and the map's nodes do not move, so keeping the order
  // costs no allocation. The updates' task_id is left empty: the map's key
  // holds it, once.
  struct slot {
    const std::string* id = nullptr;  // the map's key
    std::optional<job_update> pending;
    std::optional<job_update> writing;  // taken, in flight
    bool in_flight = false;
    std::uint64_t seq = 0;  // add() that created the pending update; 0 for put_back()
    slot* prev = nullptr;
    slot* next = nullptr;
  };
  // Slots with a pending update, oldest first.
  struct queue {
    slot* head = nullptr;
    slot* tail = nullptr;
    void push_back(slot* s) noexcept;
    void push_front(slot* s) noexcept;
    void remove(slot* s) noexcept;
  };
  using slot_map = std::unordered_map<std::string, slot>;

  queue& queue_for(const slot& s) noexcept { return is_final(s.pending->state) ? final_ : nonfinal_; }
  // Makes room for one more pending update; returns a dropped final task id, if any.
  std::optional<std::string> evict_one_();
  // Forgets the pending update of the slot at `it` (erasing the slot unless in flight).
  void drop_pending_(slot_map::iterator it);
  // The slot for the update's task id, created (from a spare node when
  // there is one) if absent.
  slot& slot_for_(job_update& u);
  // Makes `u` the slot's pending update (its task id goes: the key has it).
  void hold_(slot& s, job_update&& u);
  // Erases a slot, keeping its node (and its key's buffer) for reuse.
  void recycle_(slot_map::iterator it);
  void recycle_(const slot& s) { recycle_(slots_.find(*s.id)); }
  // Links a slot whose pending update was just set.
  void enqueue_(slot& s, bool oldest);
  // Moves a slot whose pending update just became final to the back of final_.
  void refile_(slot& s, bool was_final);

  std::size_t capacity_;
  slot_map slots_;
  // Nodes of erased slots, reused by new ones: a quick task's slot lives
  // for one flush, and reusing nodes spares the allocator a node and a key
  // per task. At most max_spare_ are kept (each a few hundred bytes).
  std::vector<slot_map::node_type> spare_;
  std::size_t max_spare_;
  queue final_;
  queue nonfinal_;
  std::size_t pending_ = 0;
  std::size_t in_flight_ = 0;
  std::uint64_t last_seq_ = 0;
  std::uint64_t dropped_nonfinal_ = 0;
  std::uint64_t dropped_final_ = 0;
};

}  // namespace celeriac::pg
