#pragma once
// Tasks by name. A task is a plain function of (context, args, kwargs)
// returning a JSON value; registration happens once at start-up, before
// worker children fork, so lookups need no locking.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/task_context.hpp"
#include "json/value.hpp"

namespace celeriac::app {

using task_function = std::function<json::value(task_context&, const json::array& args, const json::object& kwargs)>;

struct task_options {
  std::optional<int> max_retries = 3;  // Celery's default
  bool ignore_result = false;          // never store a result for this task
  // Defaults for this task; a message's own values (timelimit header) win,
  // and these win over the worker's --time-limit/--soft-time-limit.
  std::optional<double> time_limit = std::nullopt;       // hard, seconds
  std::optional<double> soft_time_limit = std::nullopt;  // seconds
  // Celery's rate text ("10/m"); --rate-limit and `celeriac rate-limit`
  // override it.
  std::optional<std::string> rate_limit = std::nullopt;
};

struct task_definition {
  std::string name;
  task_function fn;
  task_options options;
};

class task_registry {
public:
  // Registers fn under name; a second registration of a name replaces the
  // first (so an application can override a built-in deliberately).
  void add(std::string name, task_function fn, task_options options = {});

  // nullptr when no task has that name.
  const task_definition* find(std::string_view name) const;

  // Sorted names, for `celery inspect registered` and --help output.
  std::vector<std::string> names() const;

private:
  std::map<std::string, task_definition, std::less<>> tasks_;
};

}  // namespace celeriac::app
