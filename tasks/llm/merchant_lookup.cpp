#include "tasks/llm/merchant_lookup.hpp"

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "app/task_error.hpp"
#include "redis/config.hpp"
#include "tasks/common/task_database.hpp"
#include "tasks/llm/heuristic.hpp"
#include "tasks/llm/mapping_router.hpp"
#include "tasks/llm/mapping_store.hpp"
#include "tasks/llm/merchant_key.hpp"
#include "util/uuid.hpp"

namespace celeriac::tasks::llm {
namespace {

namespace asio = boost::asio;

// How long a lookup waits for another worker's answer to the same name.
constexpr std::chrono::milliseconds wait_for_other_answer{10'000};
constexpr std::chrono::milliseconds poll_interval{100};

merchant_lookup_result from_cache(const cached_answer& a, const char* source) {
  const bool near = std::string_view(source) == "near";
  return {a.category, a.ticker, near ? a.confidence * a.similarity : a.confidence, source};
}

void count_hit(pqxx::connection& c, const cached_answer& a) {
  write_batch w;
  w.hits.emplace_back(a.matched_key, 1);
  write_results(c, "", w);
}

// Sends one name through the router on a private io_context.
batch_result ask_model(app::task_context& ctx, const llm_settings& settings, const std::string& key,
                       const std::string& name) {
  asio::io_context io;
  std::optional<redis::connection> limits;
  batch_result result;
  std::exception_ptr failure;
  auto run = [&]() -> asio::awaitable<void> {
    if (mapping_router::needs_limits(settings.config)) {
      auto cfg = redis::parse_url(ctx.resources().redis_url);
      if (cfg) {
        limits.emplace(io.get_executor(), *cfg);
        co_await limits->async_connect();
      }
    }
    mapping_router router(io.get_executor(), settings, limits ? &*limits : nullptr, ctx.request().id);
    std::vector<batch_item> items{batch_item{key, name}};
    result = co_await router.async_map(std::move(items));
    if (limits) limits->close();
  };
  asio::co_spawn(io, run(), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return result;
}

}  // namespace

merchant_lookup_result lookup_merchant(app::task_context& ctx, const std::string& name, const llm_settings& settings) {
  const std::string key = normalize_merchant(name);
  pqxx::connection& c = task_connection(ctx);
  const std::vector<std::string> keys{key};
  const bool accept_heuristic = !has_model_provider(settings.config);

  if (auto hit = lookup_exact(c, keys, accept_heuristic); !hit.empty()) {
    count_hit(c, hit.front());
    return from_cache(hit.front(), "cache");
  }
  if (near_matches_available(c)) {
    auto near = lookup_near(c, keys, settings.config.near_threshold, settings.config.near_min_confidence,
                            settings.config.near_timeout);
    if (near && !near->empty()) {
      count_hit(c, near->front());
      return from_cache(near->front(), "near");
    }
  }

  const std::string token = fmt::format("{}:{}", ctx.request().id, util::uuid4().substr(0, 8));
  if (reserve_names(c, keys, token, settings.config.claim_lease).empty()) {
    // Another worker is asking the model about this name: use its answer.
    for (auto waited = std::chrono::milliseconds(0); waited < wait_for_other_answer; waited += poll_interval) {
      std::this_thread::sleep_for(poll_interval);
      if (auto hit = lookup_exact(c, keys, true); !hit.empty()) return from_cache(hit.front(), "cache");
    }
    heuristic_answer h = heuristic_map(key);
    return {h.category, h.ticker, h.confidence, "heuristic"};
  }
  // Answered while we reserved: no call needed.
  if (auto hit = lookup_exact(c, keys, true); !hit.empty()) {
    release_names(c, keys, token);
    return from_cache(hit.front(), "cache");
  }

  batch_result r;
  try {
    r = ask_model(ctx, settings, key, name);
  } catch (...) {
    release_names(c, keys, token);
    throw;
  }
  write_batch w;
  w.done_names = keys;
  w.interactions = std::move(r.interactions);
  for (auto& i : w.interactions) i.cache_misses = 1;
  if (!r.answered) {
    write_results(c, token, w);
    throw app::task_error("RuntimeError", fmt::format("no LLM provider answered for '{}': {}", name, r.error));
  }
  const item_answer& a = r.items.front();
  if (!a.answer) {
    write_results(c, token, w);
    throw app::task_error("ValueError", fmt::format("the model's answer for '{}' was refused: {}", name, a.error));
  }
  w.answers.push_back(
      model_answer{key, a.answer->category, a.answer->ticker, a.answer->confidence, r.source, r.provider, r.model});
  write_results(c, token, w);
  return {a.answer->category, a.answer->ticker, a.answer->confidence, r.source};
}

}  // namespace celeriac::tasks::llm
