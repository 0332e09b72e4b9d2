#pragma once
// How a task says it failed, and how it asks to be retried.
//
// A task throws; the executor catches at the task boundary and turns the
// exception into a Celery FAILURE result whose exc_type/exc_message a
// Python client's AsyncResult.get() re-raises. Any std::exception works
// (it reports as exc_type "Exception"); task_error names the Python type.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace celeriac::app {

// A failure with an explicit Python exception type, e.g.
//   throw task_error("ValueError", "confidence must be in [0, 1]");
// exc_module defaults to "builtins", where Python's own exceptions live,
// so celery's client can rebuild ValueError/TypeError/KeyError.
class task_error : public std::runtime_error {
public:
  task_error(std::string exc_type, const std::string& message, std::string exc_module = "builtins")
      : std::runtime_error(message), exc_type_(std::move(exc_type)), exc_module_(std::move(exc_module)) {}
  const std::string& exc_type() const noexcept { return exc_type_; }
  const std::string& exc_module() const noexcept { return exc_module_; }

private:
  std::string exc_type_;
  std::string exc_module_;
};

// Arguments that do not fit the task (missing, extra, wrong type): Python's
// TypeError, which is what Celery reports for a bad call signature. The
// worker also keeps such a message in the dead-letter list: retrying it
// can never succeed.
class argument_error : public task_error {
public:
  explicit argument_error(const std::string& message) : task_error("TypeError", message) {}
};
inline argument_error type_error(const std::string& message) { return argument_error(message); }

// The task ran past its soft time limit: Celery's
// billiard.exceptions.SoftTimeLimitExceeded. task_context throws it from
// checkpoint(), and from progress() to a task that never asked
// should_stop(); a task that stopped at a safe point after should_stop()
// may throw it itself (csv_import does once its chunk is committed). The
// text is for logs and celeriac_jobs; the Celery result carries no args,
// as SoftTimeLimitExceeded() has none.
class soft_time_limit_exceeded : public task_error {
public:
  explicit soft_time_limit_exceeded(const std::string& detail)
      : task_error("SoftTimeLimitExceeded", detail, "billiard.exceptions") {}
};

// The worker asked the task to stop (a revoke with --terminate, or a cold
// shutdown) and checkpoint() saw it: billiard.exceptions.Terminated. The
// worker reports a terminated task as REVOKED, as Celery does.
class task_terminated : public task_error {
public:
  explicit task_terminated(const std::string& detail) : task_error("Terminated", detail, "billiard.exceptions") {}
};

// Thrown by task_context::retry(): not a failure. The worker re-publishes
// the message with retries+1 and an eta, stores RETRY, and acks.
struct retry_request {
  std::chrono::milliseconds countdown{0};
  std::string reason;
};

}  // namespace celeriac::app
