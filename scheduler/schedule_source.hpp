#pragma once
// The schedule file beat runs from, and whether it changed since it was
// last read (beat polls it every second and reloads on SIGHUP).
//
// A change is any difference in modification time or size, or the file
// appearing or vanishing. A reload that fails (the file is mid-edit, or no
// longer parses) still records what it saw, so its errors are logged once
// per change, not once per poll; beat keeps the schedule it had.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/schedule_file.hpp"

namespace celeriac::scheduler {

class schedule_source {
 public:
  explicit schedule_source(std::filesystem::path path) : path_(std::move(path)) {}

  const std::filesystem::path& path() const noexcept { return path_; }

  // Reads and parses the file (load_schedule_file) and remembers its
  // modification time and size as they were just before reading.
  schedule_result<std::vector<schedule_entry>> load();

  // True if the file differs from what load() last saw. Never throws: an
  // unreadable file counts as "vanished".
  bool changed() const;

 private:
  struct stamp {
    bool exists = false;
    std::filesystem::file_time_type mtime{};
    std::uintmax_t size = 0;
    friend bool operator==(const stamp&, const stamp&) = default;
  };
  stamp current_stamp() const;

  std::filesystem::path path_;
  std::optional<stamp> seen_;
};

// Whether two entries would send the same messages at the same times
// (everything but the line number).
bool same_entry(const schedule_entry& a, const schedule_entry& b);

// "added a, b; removed c; changed d" comparing two schedules by entry
// name, or "" when they are the same.
std::string describe_changes(const std::vector<schedule_entry>& before, const std::vector<schedule_entry>& after);

}  // namespace celeriac::scheduler
