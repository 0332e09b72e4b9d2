#include "tasks/test_tasks.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "app/args.hpp"
#include "app/task_error.hpp"

namespace celeriac::tasks {
namespace {

using app::bound_args;
using app::task_context;

json::value crash(task_context&, const json::array& args, const json::object& kwargs) {
  bound_args a("crash", args, kwargs, {"signal"}, 0);
  const json::value* s = a.get(0);
  const std::string name = s && s->is_string() ? s->as_string() : "SIGSEGV";
  int sig = 0;
  for (auto [n, v] : {std::pair{"SIGSEGV", SIGSEGV}, {"SIGKILL", SIGKILL}, {"SIGABRT", SIGABRT}, {"SIGBUS", SIGBUS}})
    if (name == n) sig = v;
  if (!sig) throw app::task_error("ValueError", "signal must be SIGSEGV, SIGKILL, SIGABRT or SIGBUS");
  ::signal(sig, SIG_DFL);
  ::kill(::getpid(), sig);
  ::pause();  // the signal is on its way
  return nullptr;
}

json::value spin(task_context&, const json::array& args, const json::object& kwargs) {
  bound_args a("spin", args, kwargs, {"seconds"}, 1);
  const double seconds = a.number(0);
  if (!(seconds >= 0) || seconds > 86400.0)
    throw app::task_error("ValueError", "spin length must be between 0 and 86400 seconds");
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(std::llround(seconds * 1e6));
  volatile std::uint64_t x = 0;
  while (std::chrono::steady_clock::now() < until) x = x + 1;
  return nullptr;
}

// Kept until the child exits, as a leak would be.
std::vector<std::unique_ptr<char[]>>& hoard() {
  static std::vector<std::unique_ptr<char[]>> h;
  return h;
}

json::value grow(task_context&, const json::array& args, const json::object& kwargs) {
  bound_args a("grow", args, kwargs, {"kib"}, 1);
  const double kib = a.number(0);
  if (!(kib >= 0) || kib > 4.0 * 1024 * 1024) throw app::task_error("ValueError", "kib must be between 0 and 4 GiB");
  const auto bytes = static_cast<std::size_t>(kib * 1024);
  auto block = std::make_unique<char[]>(bytes);
  std::memset(block.get(), 1, bytes);  // touched, so it is resident
  hoard().push_back(std::move(block));
  return static_cast<std::int64_t>(kib);
}

// Asks for a retry until it has been retried `times` times, then returns
// how many retries it had (for tests of retries and their events).
json::value retry_until(task_context& ctx, const json::array& args, const json::object& kwargs) {
  bound_args a("retry_until", args, kwargs, {"times"}, 1);
  const double times = a.number(0);
  const int retries = ctx.request().retries;
  if (retries < times) ctx.retry(std::chrono::milliseconds(0), "retry " + std::to_string(retries + 1));
  return retries;
}

}  // namespace

void register_test_tasks(app::task_registry& registry) {
  registry.add("celeriac.crash", crash, app::task_options{.max_retries = 0});
  registry.add("celeriac.spin", spin, app::task_options{.max_retries = 0});
  registry.add("celeriac.grow", grow, app::task_options{.max_retries = 0});
  registry.add("celeriac.retry_until", retry_until);
}

}  // namespace celeriac::tasks
