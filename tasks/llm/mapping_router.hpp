#pragma once
// Sends a batch of merchant names to the first provider that answers:
// providers in the config's order (priority, then cost), skipping those
// marked down; each OpenAI-compatible call charged against the provider's
// cluster-wide limits first and retried on 429/5xx/timeouts with
// exponential backoff and full jitter (honouring Retry-After); the
// heuristic provider last, as the resort that always answers.
//
// Runs on the io_context of the task that owns it; one HTTP client per
// provider keeps its connections alive across the task's batches.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "http/client.hpp"
#include "limiter/limiter.hpp"
#include "redis/connection.hpp"
#include "tasks/llm/llm_settings.hpp"
#include "tasks/llm/mapping_contract.hpp"
#include "tasks/llm/mapping_store.hpp"

namespace celeriac::tasks::llm {

struct batch_item {
  std::string key;   // normalized name (what the answer is cached under)
  std::string name;  // a raw name as it arrived, sent to the model
};

struct item_answer {
  std::optional<mapping> answer;
  std::string error;  // why there is no answer (a row-level validation failure)
};

struct batch_result {
  // False when no provider answered (every one failed or was down): the
  // names should be asked again later; `error` says why.
  bool answered = false;
  std::string error;
  std::vector<item_answer> items;  // when answered: one per batch item, in order
  std::string source;              // llm or heuristic
  std::string provider;
  std::string model;
  std::vector<interaction> interactions;  // one per HTTP request made
  std::int64_t llm_calls = 0;
  std::int64_t tokens_in = 0;
  std::int64_t tokens_out = 0;
  double cost_usd = 0;
};

class mapping_router {
public:
  // limits_conn: a connected Redis connection for the cluster-wide limits,
  // or nullptr when the worker has none (limits are then not enforced:
  // the task logs that once).
  mapping_router(boost::asio::any_io_executor ex, const llm_settings& settings, redis::connection* limits_conn,
                 std::string job_id);
  ~mapping_router();
  mapping_router(const mapping_router&) = delete;
  mapping_router& operator=(const mapping_router&) = delete;

  boost::asio::awaitable<batch_result> async_map(std::vector<batch_item> items);

  // True when any configured provider has a per-minute limit.
  static bool needs_limits(const llm_config& config) noexcept;

private:
  struct provider_slot;
  boost::asio::awaitable<bool> async_call_model(provider_slot& p, const std::vector<batch_item>& items,
                                                batch_result& out);
  batch_result answer_heuristically(const provider_config& p, const std::vector<batch_item>& items) const;

  boost::asio::any_io_executor ex_;
  const llm_settings& settings_;
  redis::connection* limits_conn_;
  std::string job_id_;
  std::vector<std::unique_ptr<provider_slot>> providers_;
};

}  // namespace celeriac::tasks::llm
