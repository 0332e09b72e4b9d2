#include "scheduler/schedule_source.hpp"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

namespace celeriac::scheduler {

namespace {

const schedule_entry* find_entry(const std::vector<schedule_entry>& entries, const std::string& name) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const schedule_entry& e) { return e.name == name; });
  return it == entries.end() ? nullptr : &*it;
}

}  // namespace

schedule_source::stamp schedule_source::current_stamp() const {
  stamp s;
  std::error_code ec;
  s.mtime = std::filesystem::last_write_time(path_, ec);
  if (ec) return {};
  s.size = std::filesystem::file_size(path_, ec);
  if (ec) return {};
  s.exists = true;
  return s;
}

schedule_result<std::vector<schedule_entry>> schedule_source::load() {
  seen_ = current_stamp();
  return load_schedule_file(path_);
}

bool schedule_source::changed() const { return !seen_ || !(current_stamp() == *seen_); }

bool same_entry(const schedule_entry& a, const schedule_entry& b) {
  return a.name == b.name && a.task == b.task && a.when == b.when && a.args_json == b.args_json &&
         a.kwargs_json == b.kwargs_json && a.queue == b.queue && a.priority == b.priority &&
         a.expires == b.expires && a.timezone_name == b.timezone_name && a.missed == b.missed &&
         a.enabled == b.enabled;
}

std::string describe_changes(const std::vector<schedule_entry>& before, const std::vector<schedule_entry>& after) {
  std::vector<std::string> added, removed, changed;
  for (const auto& e : after) {
    const schedule_entry* old = find_entry(before, e.name);
    if (old == nullptr) {
      added.push_back(e.name);
    } else if (!same_entry(*old, e)) {
      changed.push_back(e.name);
    }
  }
  for (const auto& e : before)
    if (find_entry(after, e.name) == nullptr) removed.push_back(e.name);
  std::vector<std::string> parts;
  if (!added.empty()) parts.push_back(fmt::format("added {}", fmt::join(added, ", ")));
  if (!removed.empty()) parts.push_back(fmt::format("removed {}", fmt::join(removed, ", ")));
  if (!changed.empty()) parts.push_back(fmt::format("changed {}", fmt::join(changed, ", ")));
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace celeriac::scheduler
