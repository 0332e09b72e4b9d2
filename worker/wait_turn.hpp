#pragma once
// Which idle child of a node waits on the main list.
//
// Every client blocked in BLMOVE on a list is served by each message that
// comes (the rotation puts the message back, so the list stays non-empty
// for the next blocked client). With every idle child blocked on the main
// list, each message woke all of them, and all but one fetched nothing:
// they took the two cores at the very moment the message's latency was
// being paid. The turn lets one child wait there at a time. It holds the
// turn while it is idle or runs a short task; it gives the turn up when
// it stops fetching (busy with a long task, paused, full, stopping, dead:
// the supervisor gives up a dead child's), and an idle sibling waiting for
// it takes it. A child without the turn still fetches once a second and
// keeps its watchers on the other lists, so the turn decides how fast an
// idle node wakes, never whether a message is fetched.
//
// The holder is an index in the node's shared memory; the signal is an
// eventfd every child inherits: giving the turn up adds 1 to it, and a
// waiting child reads it (any waiter may read it first: the one that
// takes the turn decides, the others wait again).

#include <atomic>
#include <cstdint>

namespace celeriac::worker {

class wait_turn {
public:
  wait_turn(std::atomic<std::int32_t>& holder, int signal_fd) noexcept : holder_(holder), signal_fd_(signal_fd) {}

  // Takes the turn when nobody holds it; true when `child` holds it now.
  bool take(int child) noexcept;
  bool held_by(int child) const noexcept { return holder_.load(std::memory_order_acquire) == child; }
  bool free() const noexcept { return holder_.load(std::memory_order_acquire) < 0; }
  // Gives the turn up if `child` holds it and signals the waiting
  // children; false when `child` did not hold it.
  bool give_up(int child) noexcept;
  // Signals the waiting children without giving anything up: a child that
  // read the signal but no longer wants the turn passes the signal on.
  void signal() noexcept;
  // Reads the signal away (non-blocking); true when it was set.
  bool clear_signal() noexcept;
  int signal_fd() const noexcept { return signal_fd_; }
  // A descriptor of the signal the caller owns and closes (a dup, closed
  // on exec like the node's): an
  // asio descriptor closes what it holds, and the node's own must stay
  // open for the supervisor and the other children. Throws
  // std::system_error.
  int own_signal_fd() const;

  // The signal for a node, made before its children are forked: an
  // eventfd, non-blocking and closed on exec (a task that runs a program
  // does not pass it on). Throws std::system_error.
  static int make_signal_fd();

private:
  std::atomic<std::int32_t>& holder_;
  int signal_fd_;
};

}  // namespace celeriac::worker
