#include "tasks/llm/provider_health.hpp"

#include <map>
#include <mutex>

namespace celeriac::tasks::llm {
namespace {

struct state {
  int failures_in_row = 0;
  provider_health::clock::time_point down_until{};
};

// Tasks of one child run on one thread, but tests call from several.
std::mutex mu;
std::map<std::string, state, std::less<>> states;

}  // namespace

provider_health& provider_health::process() {
  static provider_health h;
  return h;
}

bool provider_health::is_down(const std::string& provider, clock::time_point now) const {
  std::lock_guard lock(mu);
  auto it = states.find(provider);
  return it != states.end() && it->second.down_until > now;
}

bool provider_health::record_failure(const std::string& provider, int down_after, std::chrono::milliseconds down_for,
                                     clock::time_point now) {
  std::lock_guard lock(mu);
  state& s = states[provider];
  if (++s.failures_in_row < std::max(1, down_after)) return false;
  s.failures_in_row = 0;
  s.down_until = now + down_for;
  return true;
}

void provider_health::record_success(const std::string& provider) {
  std::lock_guard lock(mu);
  states.erase(provider);
}

void provider_health::reset() {
  std::lock_guard lock(mu);
  states.clear();
}

}  // namespace celeriac::tasks::llm
