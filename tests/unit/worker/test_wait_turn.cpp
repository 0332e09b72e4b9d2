#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "worker/wait_turn.hpp"

using celeriac::worker::wait_turn;

namespace {

bool signalled(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

struct turn_fixture {
  std::atomic<std::int32_t> holder{-1};
  int fd = wait_turn::make_signal_fd();
  ~turn_fixture() { ::close(fd); }
};

}  // namespace

TEST_CASE("the main list's turn: one child holds it, giving it up signals the others") {
  turn_fixture f;
  wait_turn a(f.holder, f.fd);
  wait_turn b(f.holder, f.fd);  // another child's view of the same turn
  CHECK(a.free());
  CHECK(a.take(0));
  CHECK(a.take(0));  // taking it again keeps it
  CHECK(a.held_by(0));
  CHECK_FALSE(b.take(1));
  CHECK(b.held_by(0));
  CHECK_FALSE(signalled(f.fd));

  CHECK_FALSE(b.give_up(1));  // not child 1's to give up: no signal
  CHECK_FALSE(signalled(f.fd));
  CHECK(a.give_up(0));
  CHECK(b.free());
  CHECK(signalled(f.fd));
  CHECK(b.clear_signal());
  CHECK_FALSE(signalled(f.fd));
  CHECK_FALSE(b.clear_signal());  // non-blocking: nothing to read

  CHECK(b.take(1));
  CHECK_FALSE(a.take(0));
  CHECK_FALSE(a.give_up(0));
  CHECK(b.held_by(1));
}

TEST_CASE("the main list's turn: signals add up until read, a pass-on signal sets it again") {
  turn_fixture f;
  wait_turn t(f.holder, f.fd);
  CHECK(t.take(3));
  CHECK(t.give_up(3));
  CHECK(t.take(4));
  CHECK(t.give_up(4));
  CHECK(signalled(f.fd));
  CHECK(t.clear_signal());  // one read takes both
  CHECK_FALSE(signalled(f.fd));
  t.signal();
  CHECK(signalled(f.fd));
}

TEST_CASE("the main list's turn: a dead holder's turn is given up by the supervisor, once") {
  turn_fixture f;
  wait_turn child(f.holder, f.fd);
  wait_turn supervisor(f.holder, f.fd);
  CHECK(child.take(2));
  CHECK(supervisor.give_up(2));
  CHECK_FALSE(supervisor.give_up(2));
  CHECK(supervisor.free());
  CHECK(supervisor.clear_signal());
}

TEST_CASE("the main list's turn: a child's own descriptor shares the signal and closes alone") {
  turn_fixture f;
  wait_turn t(f.holder, f.fd);
  const int own = t.own_signal_fd();
  REQUIRE(own >= 0);
  CHECK(own != f.fd);
  CHECK((::fcntl(own, F_GETFD) & FD_CLOEXEC) != 0);  // a program a task runs does not inherit it
  t.signal();
  CHECK(signalled(own));  // one counter behind both descriptors
  wait_turn through_own(f.holder, own);
  CHECK(through_own.clear_signal());
  CHECK_FALSE(signalled(f.fd));
  ::close(own);
  t.signal();  // the node's descriptor is still open
  CHECK(t.clear_signal());
}
