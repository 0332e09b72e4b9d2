#pragma once
// celeriac's built-in tasks, for interop checks, smoke tests and
// benchmarks. Each mirrors what the same-named Python task would do, so a
// Celery worker defining these names is a drop-in peer in tests.
//
//   celeriac.noop()                 -> None
//   celeriac.add(x, y)              -> x + y (numbers, strings or lists)
//   celeriac.echo(*args, **kwargs)  -> {"args": [...], "kwargs": {...}}
//   celeriac.sleep(seconds)         -> None, after sleeping
//   celeriac.fail(message)          -> raises RuntimeError(message)
//   celeriac.started_at(sent=None)  -> the unix time (float seconds, µs)
//                                      read first thing when it ran

#include "app/task_registry.hpp"

namespace celeriac::tasks {

void register_builtin_tasks(app::task_registry& registry);

}  // namespace celeriac::tasks
