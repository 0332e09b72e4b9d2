#include "app/task_registry.hpp"

namespace celeriac::app {

void task_registry::add(std::string name, task_function fn, task_options options) {
  task_definition def{name, std::move(fn), options};
  tasks_.insert_or_assign(std::move(name), std::move(def));
}

const task_definition* task_registry::find(std::string_view name) const {
  auto it = tasks_.find(name);
  return it == tasks_.end() ? nullptr : &it->second;
}

std::vector<std::string> task_registry::names() const {
  std::vector<std::string> out;
  out.reserve(tasks_.size());
  for (const auto& [name, def] : tasks_) out.push_back(name);
  return out;
}

}  // namespace celeriac::app
