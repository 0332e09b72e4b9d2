#pragma once
// Where a worker child reports each task's lifecycle beyond Redis: the
// PostgreSQL job store when the worker runs with --database. Calls come
// from the child's io_context handlers, except started() and progress(),
// which come from the thread running the task (worker/executor.hpp: the two
// may be the same thread at different times, never at once);
// implementations must not block either.

#include <string>

#include "app/task_context.hpp"
#include "celery/task_message.hpp"
#include "json/value.hpp"

namespace celeriac::worker {

class lifecycle_sink {
public:
  virtual ~lifecycle_sink() = default;
  // state is a Celery state name: RECEIVED, STARTED, RETRY, SUCCESS,
  // FAILURE, REVOKED. result is the return value (SUCCESS), error the
  // exception text (FAILURE/RETRY/REVOKED).
  virtual void record(const celery::task_message& m, const std::string& queue, std::string_view state,
                      const json::value& result, const std::string& error) = 0;
  // The task has started: STARTED, from the executor thread as the task
  // begins (taking it there spares the io thread a wake-up per task).
  virtual void started(const app::task_request& request) = 0;
  virtual void progress(const app::task_request& request, const app::progress_report& report) = 0;
};

}  // namespace celeriac::worker
