#pragma once
// Tasks that misbehave on purpose, for tests of the worker's crash,
// memory and time-limit handling. Registered only when the worker runs
// with --enable-test-tasks; without it they are unknown tasks and
// dead-lettered, so nobody can crash a production worker by sending one.
//
//   celeriac.crash(signal="SIGSEGV")  kills its own child with the signal
//                                     (SIGSEGV, SIGKILL, SIGABRT, SIGBUS)
//   celeriac.spin(seconds)            burns CPU, ignoring should_stop()
//                                     (a runaway task: only a hard limit ends it)
//   celeriac.grow(kib)                allocates and touches kib KiB and keeps
//                                     them until the child exits

#include "app/task_registry.hpp"

namespace celeriac::tasks {

void register_test_tasks(app::task_registry& registry);

}  // namespace celeriac::tasks
