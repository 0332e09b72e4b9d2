#include "tasks/llm/mapping_router.hpp"

#include <chrono>
#include <cstdlib>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "tasks/llm/backoff.hpp"
#include "tasks/llm/heuristic.hpp"
#include "tasks/llm/provider_health.hpp"
#include "tasks/llm/token_estimate.hpp"
#include "util/log.hpp"

namespace celeriac::tasks::llm {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

struct mapping_router::provider_slot {
  const provider_config& cfg;
  std::optional<http::url> base;
  std::unique_ptr<http::client> client;
  std::optional<limiter::limit> rpm;
  std::optional<limiter::limit> tpm;
};

namespace {

// The longest a call waits for the cluster-wide limits before it counts as
// a failed attempt (the batch then fails over or is asked again later).
constexpr milliseconds max_limit_wait{120'000};
// Retry-After beyond this is treated as "down for now" rather than waited.
constexpr milliseconds max_retry_after{60'000};

std::uint64_t random_bits() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

asio::awaitable<void> sleep_for(milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

std::string limit_key(const std::string& provider, const char* what) {
  return fmt::format("celeriac:limit:llm:{}:{}", provider, what);
}

}  // namespace

bool mapping_router::needs_limits(const llm_config& config) noexcept {
  for (const auto& p : config.providers)
    if (p.kind != provider_kind::heuristic && (p.requests_per_minute > 0 || p.tokens_per_minute > 0)) return true;
  return false;
}

mapping_router::mapping_router(asio::any_io_executor ex, const llm_settings& settings,
                               redis::connection* limits_conn, std::string job_id)
    : ex_(std::move(ex)), settings_(settings), limits_conn_(limits_conn), job_id_(std::move(job_id)) {
  for (const provider_config& p : settings_.config.providers) {
    auto slot = std::make_unique<provider_slot>(provider_slot{p, std::nullopt, nullptr, std::nullopt, std::nullopt});
    if (p.kind != provider_kind::heuristic) {
      slot->base = http::parse_url(p.base_url);
      http::client_options o;
      o.connect_timeout = p.connect_timeout;
      o.request_timeout = p.request_timeout;
      o.ca_file = !p.ca_file.empty() ? p.ca_file : settings_.extra_ca_file;
      slot->client = std::make_unique<http::client>(ex_, o);
      if (p.requests_per_minute > 0)
        slot->rpm = limiter::limit{limit_key(p.name, "rpm"), static_cast<double>(p.requests_per_minute),
                                   std::chrono::seconds(60)};
      if (p.tokens_per_minute > 0)
        slot->tpm = limiter::limit{limit_key(p.name, "tpm"), static_cast<double>(p.tokens_per_minute),
                                   std::chrono::seconds(60)};
    }
    providers_.push_back(std::move(slot));
  }
}

mapping_router::~mapping_router() = default;

batch_result mapping_router::answer_heuristically(const provider_config& p,
                                                  const std::vector<batch_item>& items) const {
  batch_result out;
  out.answered = true;
  out.source = "heuristic";
  out.provider = p.name;
  out.model = "heuristic";
  for (const batch_item& item : items) {
    heuristic_answer h = heuristic_map(item.key);
    out.items.push_back(item_answer{mapping{h.category, h.ticker, h.confidence}, {}});
  }
  return out;
}

asio::awaitable<batch_result> mapping_router::async_map(std::vector<batch_item> items) {
  batch_result failed;
  failed.error = "no LLM provider is configured";
  std::vector<interaction> calls;
  std::int64_t llm_calls = 0, tokens_in = 0, tokens_out = 0;
  double cost = 0;
  for (auto& slot : providers_) {
    const provider_config& p = slot->cfg;
    if (provider_health::process().is_down(p.name)) {
      failed.error = fmt::format("provider {} is marked down after repeated failures", p.name);
      continue;
    }
    batch_result attempt;
    if (p.kind == provider_kind::heuristic) {
      attempt = answer_heuristically(p, items);
    } else {
      bool ok = co_await async_call_model(*slot, items, attempt);
      llm_calls += attempt.llm_calls;
      tokens_in += attempt.tokens_in;
      tokens_out += attempt.tokens_out;
      cost += attempt.cost_usd;
      for (auto& i : attempt.interactions) calls.push_back(std::move(i));
      if (!ok) {
        failed.error = attempt.error;
        if (provider_health::process().record_failure(p.name, p.down_after, p.down_for))
          log::warning("LLM provider {} is marked down for {} s after {} failed calls in a row (last: {}); failing "
                       "over to the next provider",
                       p.name, p.down_for.count() / 1000, p.down_after, attempt.error);
        continue;
      }
      provider_health::process().record_success(p.name);
    }
    attempt.interactions = std::move(calls);
    attempt.llm_calls = llm_calls;
    attempt.tokens_in = tokens_in;
    attempt.tokens_out = tokens_out;
    attempt.cost_usd = cost;
    co_return attempt;
  }
  failed.interactions = std::move(calls);
  failed.llm_calls = llm_calls;
  failed.tokens_in = tokens_in;
  failed.tokens_out = tokens_out;
  failed.cost_usd = cost;
  co_return failed;
}

// g++ 12 inlines Asio's coroutine-frame operator new (aligned_alloc)
// into this large coroutine and then reports the frame's matching
// operator delete as mismatched: a known false positive of GCC 12's
// -Wmismatched-new-delete with Asio awaitables. Silenced for this
// function only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// One batch to one OpenAI-compatible provider, with its retries. Fills
// `out` (answer or error, and one interaction per HTTP request); returns
// whether the provider answered.
asio::awaitable<bool> mapping_router::async_call_model(provider_slot& slot, const std::vector<batch_item>& items,
                                                       batch_result& out) {
  const provider_config& p = slot.cfg;
  std::vector<merchant_item> merchants;
  for (std::size_t i = 0; i < items.size(); ++i) merchants.push_back({static_cast<int>(i), items[i].name});
  request_options ro;
  ro.model = p.model;
  ro.temperature = p.temperature;
  ro.max_tokens = p.max_tokens;
  const std::string body = build_chat_request(merchants, ro);
  const std::int64_t estimate = estimate_prompt_tokens(body) + estimate_completion_tokens(items.size());

  http::request req;
  req.method = "POST";
  req.target = "/chat/completions";
  req.headers.emplace_back("Content-Type", "application/json");
  if (const char* key = std::getenv(p.api_key_env.c_str()); key && *key)
    req.headers.emplace_back("Authorization", fmt::format("Bearer {}", key));
  req.body = body;

  const int attempts = std::max(1, p.max_retries + 1);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    interaction call;
    call.job_id = job_id_;
    call.provider = p.name;
    call.model = p.model;
    call.merchants = static_cast<int>(items.size());
    call.cache_misses = static_cast<int>(items.size());

    // The cluster-wide limits, charged with the estimate before the call.
    std::string charge_id;
    if (limits_conn_ && (slot.rpm || slot.tpm)) {
      std::vector<limiter::charge> charges;
      if (slot.rpm) charges.push_back(limiter::charge{&*slot.rpm, 1.0});
      if (slot.tpm) charges.push_back(limiter::charge{&*slot.tpm, static_cast<double>(estimate)});
      std::string limit_error;
      try {
        auto deadline = clock_type::now() + max_limit_wait;
        charge_id = co_await limiter::async_acquire(*limits_conn_, charges, deadline);
      } catch (const std::exception& e) {
        limit_error = e.what();
      }
      if (!limit_error.empty()) {
        out.error = fmt::format("provider {}: waiting for its rate limit: {}", p.name, limit_error);
        co_return false;
      }
    }

    auto started = clock_type::now();
    std::optional<http::response> resp;
    std::string transport_error;
    bool transport_retryable = true;
    try {
      http::request copy = req;
      resp = co_await slot.client->async_request(*slot.base, std::move(copy));
    } catch (const http::error& e) {
      transport_error = e.what();
      transport_retryable = e.kind() != http::error_kind::tls;
    } catch (const std::exception& e) {
      transport_error = e.what();
    }
    call.latency_ms = std::chrono::duration<double, std::milli>(clock_type::now() - started).count();
    ++out.llm_calls;

    std::optional<milliseconds> wait;
    if (!resp) {
      call.error = transport_error;
      out.error = fmt::format("provider {}: {}", p.name, transport_error);
      if (slot.tpm && !charge_id.empty()) {
        // Nothing was used: give the estimate back.
        co_await limiter::async_adjust(*limits_conn_, *slot.tpm, charge_id, -static_cast<double>(estimate));
      }
      out.interactions.push_back(std::move(call));
      if (!transport_retryable) co_return false;
    } else if (resp->status == 200) {
      call.http_status = 200;
      parsed_answer answer = parse_chat_response(resp->body, items.size());
      call.tokens_in = answer.usage_present ? answer.prompt_tokens : estimate_prompt_tokens(body);
      call.tokens_out = answer.usage_present ? answer.completion_tokens : 0;
      call.cost_usd = cost_usd(call.tokens_in, call.tokens_out, p.price_in_per_mtok, p.price_out_per_mtok);
      if (!answer.answer_error.empty()) call.error = answer.answer_error;
      out.tokens_in += call.tokens_in;
      out.tokens_out += call.tokens_out;
      out.cost_usd += call.cost_usd;
      if (slot.tpm && !charge_id.empty()) {
        const double delta = static_cast<double>(call.tokens_in + call.tokens_out - estimate);
        co_await limiter::async_adjust(*limits_conn_, *slot.tpm, charge_id, delta);
      }
      out.interactions.push_back(std::move(call));
      out.answered = true;
      out.source = "llm";
      out.provider = p.name;
      out.model = answer.model.empty() ? p.model : answer.model;
      for (std::size_t i = 0; i < items.size(); ++i) {
        item_answer a;
        if (!answer.answer_error.empty()) {
          a.error = answer.answer_error;
        } else if (i < answer.rows.size() && answer.rows[i]) {
          a.answer = std::move(*answer.rows[i]);
        } else {
          a.error = i < answer.row_errors.size() && !answer.row_errors[i].empty() ? answer.row_errors[i]
                                                                                  : "no answer for this merchant";
        }
        out.items.push_back(std::move(a));
      }
      co_return true;
    } else {
      call.http_status = static_cast<int>(resp->status);
      call.error = provider_error_message(resp->body);
      out.error = fmt::format("provider {} answered HTTP {}: {}", p.name, resp->status, call.error);
      if (slot.tpm && !charge_id.empty())
        co_await limiter::async_adjust(*limits_conn_, *slot.tpm, charge_id, -static_cast<double>(estimate));
      out.interactions.push_back(std::move(call));
      if (!retryable_status(resp->status)) co_return false;
      if (auto header = resp->header("retry-after")) {
        wait = parse_retry_after(*header, std::chrono::system_clock::now());
        if (wait && *wait > max_retry_after) co_return false;
      }
    }
    if (attempt == attempts) break;
    milliseconds delay = wait ? *wait : backoff_delay(attempt, p.backoff_base, p.backoff_max, random_bits());
    log::warning("LLM provider {}: {}; attempt {} of {}, next in {} ms", p.name, out.error, attempt, attempts,
                 delay.count());
    co_await sleep_for(delay);
  }
  co_return false;
}
#pragma GCC diagnostic pop

}  // namespace celeriac::tasks::llm
