#include "pg/job_notification.hpp"

#include <utility>

#include "json/dump.hpp"
#include "json/parse.hpp"

namespace celeriac::pg {

namespace {

std::optional<job_notification> decode(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const json::value* id = v.find("task_id");
  const json::value* state = v.find("state");
  if (!id || !id->is_string() || !state || !state->is_string()) return std::nullopt;
  auto s = parse_job_state(state->as_string());
  if (!s) return std::nullopt;
  job_notification n{id->as_string(), *s, std::nullopt, std::nullopt, std::nullopt};
  if (const auto* f = v.find("progress_done"); f && f->is_integer()) n.progress_done = f->as_integer();
  if (const auto* f = v.find("progress_total"); f && f->is_integer()) n.progress_total = f->as_integer();
  if (const auto* f = v.find("progress_unit"); f && f->is_string()) n.progress_unit = f->as_string();
  return n;
}

}  // namespace

void job_notification_packer::add(std::string_view task_id, std::string_view state,
                                  std::optional<std::int64_t> progress_done,
                                  std::optional<std::int64_t> progress_total,
                                  std::optional<std::string_view> progress_unit) {
  entry_.assign(R"({"task_id":)");
  json::dump_string_to(entry_, task_id);
  entry_.append(R"(,"state":)");
  json::dump_string_to(entry_, state);
  if (progress_done) json::dump_integer_to(entry_.append(R"(,"progress_done":)"), *progress_done);
  if (progress_total) json::dump_integer_to(entry_.append(R"(,"progress_total":)"), *progress_total);
  if (progress_unit) {
    entry_.append(R"(,"progress_unit":)");
    json::dump_string_to(entry_, *progress_unit);
  }
  entry_.push_back('}');
  // "," or "[" before the entry, "]" after it.
  if (!current_.empty() && current_.size() + entry_.size() + 2 > max_notification_bytes) {
    current_.push_back(']');
    done_.push_back(std::move(current_));
    current_.clear();
  }
  current_.push_back(current_.empty() ? '[' : ',');
  current_.append(entry_);
}

std::vector<std::string> job_notification_packer::finish() {
  if (!current_.empty()) {
    current_.push_back(']');
    done_.push_back(std::move(current_));
    current_.clear();
  }
  return std::exchange(done_, {});
}

std::vector<job_notification> parse_job_notifications(std::string_view payload) {
  std::vector<job_notification> out;
  auto parsed = json::parse(payload);
  if (!parsed) return out;
  if (parsed->is_array()) {
    for (const json::value& v : parsed->as_array())
      if (auto n = decode(v)) out.push_back(std::move(*n));
  } else if (auto n = decode(*parsed)) {
    out.push_back(std::move(*n));
  }
  return out;
}

}  // namespace celeriac::pg
