#include "worker/wait_turn.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace celeriac::worker {

bool wait_turn::take(int child) noexcept {
  std::int32_t expected = -1;
  if (holder_.compare_exchange_strong(expected, child, std::memory_order_acq_rel)) return true;
  return expected == child;
}

bool wait_turn::give_up(int child) noexcept {
  std::int32_t expected = child;
  if (!holder_.compare_exchange_strong(expected, -1, std::memory_order_acq_rel)) return false;
  signal();
  return true;
}

void wait_turn::signal() noexcept {
  const std::uint64_t one = 1;
  // Only fails when the counter is about to overflow (EAGAIN): it is set
  // then, which is all a signal needs.
  [[maybe_unused]] const ssize_t n = ::write(signal_fd_, &one, sizeof one);
}

bool wait_turn::clear_signal() noexcept {
  std::uint64_t count = 0;
  return ::read(signal_fd_, &count, sizeof count) == static_cast<ssize_t>(sizeof count);
}

int wait_turn::own_signal_fd() const {
  // dup() drops close-on-exec; the copy must not reach a program a task runs either.
  const int copy = ::fcntl(signal_fd_, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "duplicating the main list's turn signal");
  return copy;
}

int wait_turn::make_signal_fd() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(),
                            "creating the eventfd the worker children signal the main list's turn with");
  return fd;
}

}  // namespace celeriac::worker
