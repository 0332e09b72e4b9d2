#include "pg/job_update.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "pg/sql_text.hpp"

namespace celeriac::pg {
namespace {

void clean(std::optional<std::string>& field, std::size_t max_bytes) {
  if (!field) return;
  sanitize_utf8(*field);
  truncate_utf8(*field, max_bytes);
}

// A label is shared, so it is replaced, not changed, when it needs cleaning
// (rarely: the same label passes here for every job).
void clean(std::optional<label>& field, std::size_t max_bytes) {
  if (!field || (field->view().size() <= max_bytes && is_clean_utf8(field->view()))) return;
  std::string text(field->view());
  sanitize_utf8(text);
  truncate_utf8(text, max_bytes);
  field = label(std::move(text));
}

// Newer wins when the incoming update takes over, older otherwise; a
// missing value never erases a recorded one.
template <class T>
void pick(std::optional<T>& current, std::optional<T>& incoming, bool accept) {
  if (accept) {
    if (incoming) current = std::move(incoming);
  } else if (!current) {
    current = std::move(incoming);
  }
}

template <class T>
void keep_first(std::optional<T>& current, std::optional<T>& incoming) {
  if (!current) current = std::move(incoming);
}

}  // namespace

bool normalize(job_update& u, util::wall_time now) {
  if (u.task_id.empty() || u.task_id.size() > max_task_id_bytes) return false;
  sanitize_utf8(u.task_id);
  truncate_utf8(u.task_id, max_task_id_bytes);  // U+FFFD replacements may have grown it
  clean(u.name, max_label_bytes);
  clean(u.queue, max_label_bytes);
  clean(u.worker, max_label_bytes);
  clean(u.progress_unit, max_unit_bytes);
  clean(u.message, max_message_bytes);
  clean(u.error, max_message_bytes);
  if (u.result && u.result->size() > max_result_bytes) {
    std::string note = fmt::format("result of {} bytes not stored (limit {})", u.result->size(), max_result_bytes);
    u.message = u.message ? *u.message + "; " + note : note;
    u.result.reset();
  }
  if (u.attempts < 1) u.attempts = 1;
  if (!u.created_at) u.created_at = now;
  if (!u.started_at && (u.state == job_state::started || u.state == job_state::progress)) u.started_at = now;
  if (!u.finished_at && is_final(u.state)) u.finished_at = now;
  return true;
}

bool takes_over(const job_update& current, const job_update& incoming) noexcept {
  const bool current_final = is_final(current.state);
  if (is_final(incoming.state)) return !current_final || incoming.attempts >= current.attempts;
  if (current_final) return false;
  if (incoming.attempts != current.attempts) return incoming.attempts > current.attempts;
  return state_rank(incoming.state) >= state_rank(current.state);
}

void merge_into(job_update& current, job_update&& incoming) {
  const bool accept = takes_over(current, incoming);
  const bool same_attempt = incoming.attempts == current.attempts;
  const bool newer_attempt = incoming.attempts > current.attempts;

  if (same_attempt) {
    if (incoming.progress_done && (!current.progress_done || *incoming.progress_done > *current.progress_done))
      current.progress_done = incoming.progress_done;
  } else if (newer_attempt && accept) {
    if (incoming.progress_done) current.progress_done = incoming.progress_done;
  }
  pick(current.progress_total, incoming.progress_total, accept);
  pick(current.progress_unit, incoming.progress_unit, accept);
  pick(current.meta, incoming.meta, accept);
  pick(current.name, incoming.name, accept);
  pick(current.queue, incoming.queue, accept);
  pick(current.worker, incoming.worker, accept);
  pick(current.message, incoming.message, accept);
  if (accept && is_final(incoming.state)) {
    // A final state reports its own outcome: a SUCCESS must not keep the
    // error text of the attempt that was retried before it.
    current.error = std::move(incoming.error);
    current.result = std::move(incoming.result);
  } else {
    pick(current.error, incoming.error, accept);
    pick(current.result, incoming.result, accept);
  }
  if (incoming.created_at && (!current.created_at || *incoming.created_at < *current.created_at))
    current.created_at = incoming.created_at;
  keep_first(current.started_at, incoming.started_at);
  keep_first(current.finished_at, incoming.finished_at);
  if (accept) current.state = incoming.state;
  current.attempts = std::max(current.attempts, incoming.attempts);
}

}  // namespace celeriac::pg
