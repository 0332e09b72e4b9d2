#include "app/task_context.hpp"

#include <fmt/format.h>

#include "app/task_error.hpp"
#include "json/dump.hpp"
#include "util/log.hpp"

namespace celeriac::app {

task_context::~task_context() {
  for (auto it = at_end_.rbegin(); it != at_end_.rend(); ++it) {
    try {
      (*it)();
    } catch (...) {
      // A release that fails leaves its resource to the process's exit;
      // the run's outcome is already decided.
    }
  }
}

void task_context::retry(std::chrono::milliseconds countdown, std::string reason) const {
  if (request_.max_retries && request_.retries >= *request_.max_retries)
    throw task_error("MaxRetriesExceededError",
                     fmt::format("Can't retry {}[{}] args:... kwargs:... (max_retries={} reached){}", request_.name,
                                 request_.id, *request_.max_retries, reason.empty() ? "" : ": " + reason),
                     "celery.exceptions");
  throw retry_request{countdown, std::move(reason)};
}

void task_context::progress(std::int64_t done, std::int64_t total, std::string unit, json::value meta) const {
  if (sink_) sink_(request_, progress_report{done, total, std::move(unit), std::move(meta)});
  if (overran_soft_limit_untold()) throw_soft_limit("");
}

stop_cause task_context::stop_cause_now() const noexcept {
  // A revoke outranks a shutdown (its result is REVOKED either way), and
  // both outrank the soft limit: they are asked for explicitly.
  if (limits_.seq != 0 && limits_.terminate_seq && limits_.terminate_seq->load(std::memory_order_relaxed) == limits_.seq)
    return stop_cause::terminate;
  if (stop_flag_ && stop_flag_->load(std::memory_order_relaxed)) return stop_cause::shutdown;
  if (past_soft_deadline()) return stop_cause::soft_time_limit;
  return stop_cause::none;
}

void task_context::checkpoint(std::string_view detail) const {
  switch (stop_cause_now()) {
    case stop_cause::none: return;
    case stop_cause::terminate:
      told_.store(true, std::memory_order_relaxed);
      throw task_terminated(detail.empty() ? std::string("revoked with terminate: stopped at a checkpoint")
                                           : fmt::format("revoked with terminate: {}", detail));
    case stop_cause::shutdown:
      told_.store(true, std::memory_order_relaxed);
      throw task_terminated(detail.empty() ? std::string("the worker is shutting down: stopped at a checkpoint")
                                           : fmt::format("the worker is shutting down: {}", detail));
    case stop_cause::soft_time_limit: throw_soft_limit(detail);
  }
}

void task_context::note_told(stop_cause why) const noexcept {
  told_.store(true, std::memory_order_relaxed);
  if (why == stop_cause::soft_time_limit) log_soft_limit_once();
}

void task_context::log_soft_limit_once() const noexcept {
  if (soft_limit_logged_.exchange(true, std::memory_order_relaxed)) return;
  try {
    // Celery's warning, word for word; the seconds as Python prints a float.
    log::warning("Soft time limit ({}s) exceeded for {}[{}]", json::dump(json::value(limits_.soft_limit_seconds)),
                 request_.name, request_.id);
  } catch (...) {
    // Out of memory while logging: the stop itself still happens.
  }
}

void task_context::throw_soft_limit(std::string_view detail) const {
  told_.store(true, std::memory_order_relaxed);
  log_soft_limit_once();
  const std::string limit = json::dump(json::value(limits_.soft_limit_seconds));
  throw soft_time_limit_exceeded(detail.empty() ? fmt::format("soft time limit ({}s) exceeded", limit)
                                                : fmt::format("soft time limit ({}s) exceeded: {}", limit, detail));
}

}  // namespace celeriac::app
