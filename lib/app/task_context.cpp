#include "app/task_context.hpp"

#include <fmt/format.h>

#include "app/task_error.hpp"

namespace celeriac::app {

void task_context::retry(std::chrono::milliseconds countdown, std::string reason) const {
  if (request_.max_retries && request_.retries >= *request_.max_retries)
    throw task_error("MaxRetriesExceededError",
                     fmt::format("Can't retry {}[{}] args:... kwargs:... (max_retries={} reached){}", request_.name,
                                 request_.id, *request_.max_retries, reason.empty() ? "" : ": " + reason),
                     "celery.exceptions");
  throw retry_request{countdown, std::move(reason)};
}

}  // namespace celeriac::app
