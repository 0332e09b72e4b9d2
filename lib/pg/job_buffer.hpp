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
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pg/job_update.hpp"

namespace celeriac::pg {

class job_buffer {
public:
  // capacity: most task ids held at once; 0 is taken as 1.
  explicit job_buffer(std::size_t capacity);

  // Merges u into the pending update for its task id (u is newer), or adds
  // it, dropping another job's update when the buffer is full. Returns the
  // task id of a FINAL update dropped to make room, if one was.
  std::optional<std::string> add(job_update u);

  // Removes and returns up to max pending updates: final states first, then
  // the rest, oldest first within each, sorted by task id (so concurrent
  // batches lock rows in one order and cannot deadlock). The returned task
  // ids are "in flight" until written() or put_back(): a newer update for
  // one of them stays pending meanwhile, so two writes of one job never run
  // at once and cannot land out of order.
  // Only updates pending since add() number `up_to` or earlier are taken
  // (see last_added()): a flush then writes what was pending when it began,
  // and a job updated meanwhile waits for the next flush.
  std::vector<job_update> take(std::size_t max, std::uint64_t up_to = UINT64_MAX);

  // Number of the latest add() that created a pending entry (merges into an
  // existing entry keep its number).
  std::uint64_t last_added() const noexcept { return last_seq_; }

  // The batch was written: its task ids may be taken again.
  void written(const std::vector<job_update>& batch);

  // Returns updates whose write failed. They are older than anything added
  // since they were taken, so a pending update for the same task id is
  // merged on top of them. Returns the task ids of FINAL updates dropped to
  // make room.
  std::vector<std::string> put_back(std::vector<job_update> failed);

  // Task ids with a pending update (in flight ones not counted).
  std::size_t size() const noexcept { return entries_.size(); }
  // Task ids taken and not yet written() or put_back().
  std::size_t in_flight() const noexcept { return in_flight_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return entries_.empty(); }
  std::uint64_t dropped_nonfinal() const noexcept { return dropped_nonfinal_; }
  std::uint64_t dropped_final() const noexcept { return dropped_final_; }

private:
  using order_list = std::list<std::string>;
  struct entry {
    job_update update;
    order_list::iterator position;  // in final_ or nonfinal_, by is_final(update.state)
    std::uint64_t seq;              // add() that created it; 0 for put_back()
  };

  // Makes room for one more entry; returns a dropped final task id, if any.
  std::optional<std::string> evict_one_();
  // Moves an entry that just became final from nonfinal_ to the back of final_.
  void refile_(entry& e, bool was_final);
  void insert_(job_update u, bool oldest, std::uint64_t seq);

  std::size_t capacity_;
  std::unordered_map<std::string, entry> entries_;
  order_list final_;     // oldest first
  order_list nonfinal_;  // oldest first
  std::unordered_set<std::string> in_flight_;
  std::uint64_t last_seq_ = 0;
  std::uint64_t dropped_nonfinal_ = 0;
  std::uint64_t dropped_final_ = 0;
};

}  // namespace celeriac::pg
