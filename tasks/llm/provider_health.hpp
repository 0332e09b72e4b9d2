#pragma once
// Which providers are down, per worker process: a provider whose calls
// keep failing (down_after failed calls in a row, each after its retries)
// is skipped for down_for, so the router fails over to the next one
// instead of paying the retries again on every batch. One success clears
// the count. Process-wide because a task run is short and the next run in
// the same child should remember; per process (not in Redis) because
// "down" is a judgement about this host's path to the provider too.

#include <chrono>
#include <string>

namespace celeriac::tasks::llm {

class provider_health {
public:
  using clock = std::chrono::steady_clock;

  static provider_health& process();

  bool is_down(const std::string& provider, clock::time_point now = clock::now()) const;
  // Returns true when this failure marked the provider down.
  bool record_failure(const std::string& provider, int down_after, std::chrono::milliseconds down_for,
                      clock::time_point now = clock::now());
  void record_success(const std::string& provider);
  void reset();
};

}  // namespace celeriac::tasks::llm
