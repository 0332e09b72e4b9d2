#include "worker/crash_events.hpp"

#include <fmt/format.h>

#include "celery/event_message.hpp"

namespace celeriac::worker {

std::string crash_traceback(std::string_view task, const crash_decision& d) {
  return fmt::format("Traceback (most recent call last):\n  File \"celeriac\", in {}\n{}: {}\n", task, d.exc_type,
                     d.exc_message);
}

task_event crash_event(const crash_decision& d, std::string_view id, std::string_view task, double hard_limit_seconds) {
  using action = crash_decision::action;
  if (d.what == action::redeliver) return {"task-rejected", celery::task_rejected_fields(id, true)};
  // TimeLimitExceeded's argument is the limit as a number (repr 1.0), a
  // WorkerLostError's the message text.
  const json::array args = d.exc_type == "TimeLimitExceeded" ? json::array{json::value(hard_limit_seconds)}
                                                             : json::array{json::value(d.exc_message)};
  return {"task-failed",
          celery::task_failed_fields(id, celery::exception_text(d.exc_type, args), crash_traceback(task, d))};
}

}  // namespace celeriac::worker
