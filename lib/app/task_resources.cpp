#include "app/task_resources.hpp"

#include <algorithm>
#include <utility>

namespace celeriac::app {

namespace {

task_resources& storage() noexcept {
  static task_resources resources;
  return resources;
}

}  // namespace

bool task_resources::import_table_allowed(std::string_view table) const noexcept {
  return std::find(import_tables.begin(), import_tables.end(), table) != import_tables.end();
}

void set_process_task_resources(task_resources resources) { storage() = std::move(resources); }

const task_resources& process_task_resources() noexcept { return storage(); }

}  // namespace celeriac::app
