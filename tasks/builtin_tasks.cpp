#include "tasks/builtin_tasks.hpp"

#include <chrono>
#include <cmath>
#include <thread>

#include "app/args.hpp"
#include "app/task_error.hpp"
#include "json/dump.hpp"
#include "util/clock.hpp"

namespace celeriac::tasks {
namespace {

using app::bound_args;
using app::task_context;

json::value noop(task_context&, const json::array& args, const json::object& kwargs) {
  bound_args("noop", args, kwargs, {}, 0);
  return nullptr;
}

// The latency probe: the clock is read before anything else (even the
// argument check), so the stamp is as close to the task's start as a task
// can take it. The optional argument is the caller's own bookkeeping (a
// send time, a label) and is not used.
json::value started_at(task_context&, const json::array& args, const json::object& kwargs) {
  const double now = util::unix_seconds(util::wall_now());
  bound_args("started_at", args, kwargs, {"sent"}, 0);
  return now;
}

// Python's + on the JSON kinds it is defined for.
json::value add(task_context&, const json::array& args, const json::object& kwargs) {
  bound_args a("add", args, kwargs, {"x", "y"}, 2);
  const json::value& x = *a.get(0);
  const json::value& y = *a.get(1);
  if (x.is_integer() && y.is_integer()) {
    std::int64_t r;
    if (!__builtin_add_overflow(x.as_integer(), y.as_integer(), &r)) return r;
    return static_cast<double>(x.as_integer()) + static_cast<double>(y.as_integer());
  }
  if (x.is_number() && y.is_number()) return x.as_double() + y.as_double();
  if (x.is_string() && y.is_string()) return x.as_string() + y.as_string();
  if (x.is_array() && y.is_array()) {
    json::array out = x.as_array();
    out.insert(out.end(), y.as_array().begin(), y.as_array().end());
    return out;
  }
  throw app::type_error("unsupported operand type(s) for +");
}

json::value echo(task_context&, const json::array& args, const json::object& kwargs) {
  return json::object{{"args", args}, {"kwargs", kwargs}};
}

json::value sleep(task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args a("sleep", args, kwargs, {"seconds"}, 1);
  double seconds = a.number(0);
  if (!(seconds >= 0) || seconds > 86400.0)
    throw app::task_error("ValueError", "sleep length must be between 0 and 86400 seconds");
  // Sleep in slices so a cold shutdown is not held up by a long sleep, and
  // a soft time limit or a revoke ends it as they end Python's time.sleep
  // (SoftTimeLimitExceeded, REVOKED).
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(std::llround(seconds * 1e6));
  while (std::chrono::steady_clock::now() < until) {
    ctx.checkpoint();
    auto left = until - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return nullptr;
}

json::value fail(task_context&, const json::array& args, const json::object& kwargs) {
  bound_args a("fail", args, kwargs, {"message"}, 0);
  const json::value* m = a.get(0);
  std::string message = !m ? "failed on purpose" : m->is_string() ? m->as_string() : json::dump(*m);
  throw app::task_error("RuntimeError", message);
}

}  // namespace

void register_builtin_tasks(app::task_registry& registry) {
  registry.add("celeriac.noop", noop);
  registry.add("celeriac.add", add);
  registry.add("celeriac.echo", echo);
  registry.add("celeriac.sleep", sleep);
  registry.add("celeriac.started_at", started_at);
  registry.add("celeriac.fail", fail, app::task_options{.max_retries = 0});
}

}  // namespace celeriac::tasks
