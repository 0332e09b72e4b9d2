#pragma once
// How an import ends early, shared by the parts of a parallel import and
// the task that runs it.

#include <stdexcept>
#include <string>
#include <string_view>

#include "app/task_error.hpp"

namespace celeriac::tasks {

// PostgreSQL stayed unreachable for the whole reconnect budget. The work
// committed so far is kept; a later delivery resumes from the checkpoint.
class database_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// should_stop() said so.
class import_stopped : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// A failure the task reports as the Python exception `exc_type`, its text
// prefixed with the task's name.
inline app::task_error import_error(std::string_view exc_type, const std::string& message) {
  return app::task_error(std::string(exc_type), "celeriac.csv_import: " + message);
}

}  // namespace celeriac::tasks
