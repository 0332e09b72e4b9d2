#include "tasks/llm/pending_mapper.hpp"

#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <pqxx/nontransaction>
#include <pqxx/result>

#include "pg/pool.hpp"
#include "redis/config.hpp"
#include "tasks/llm/mapping_router.hpp"
#include "tasks/llm/mapping_store.hpp"
#include "tasks/llm/merchant_key.hpp"
#include "util/log.hpp"
#include "util/uuid.hpp"

namespace celeriac::tasks::llm {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::milliseconds;

constexpr auto wait_token = asio::as_tuple(asio::use_awaitable);
// Rows whose name another worker is asking are claimable again after this.
constexpr milliseconds defer_for_busy_name{2000};
// Rows no provider could answer are claimable again after this.
constexpr milliseconds defer_for_failed_call{30'000};
// How long a sweep keeps looking for rows it deferred before it ends.
constexpr milliseconds wait_for_deferred{30'000};

struct pending_row {
  std::int64_t id;
  std::string name;
  int attempts;
};

// Names sent in one request, and the claimed rows each one answers.
struct prepared_batch {
  std::vector<batch_item> items;
  std::vector<std::vector<pending_row>> rows;  // per item
  bool writing = false;                        // its answer is being written: take no more rows
};

class sweep {
public:
  sweep(app::task_context& ctx, const map_pending_options& o, const llm_settings& settings)
      : ctx_(ctx),
        o_(o),
        settings_(settings),
        token_(fmt::format("{}:{}", ctx.request().id.empty() ? "local" : ctx.request().id, util::uuid4().substr(0, 8))),
        db_(pg::pool_config{.url = *ctx.resources().database_url, .connections = 4,
                            .application_name = "celeriac llm.map_pending"}),
        wake_(io_) {
    wake_.expires_at(asio::steady_timer::time_point::max());
  }

  map_pending_summary run() {
    auto started = std::chrono::steady_clock::now();
    std::exception_ptr failure;
    asio::co_spawn(io_, main(), [&](std::exception_ptr e) { failure = e; });
    io_.run();
    if (!failure) failure = write_failure_;
    if (failure) std::rethrow_exception(failure);
    s_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return s_;
  }

private:
  awaitable<void> main() {
    auto count = [max = o_.max_rows](pqxx::connection& c) {
      pqxx::nontransaction tx{c};
      return tx.exec_params1("SELECT count(*) FROM (SELECT 1 FROM llm_mappings WHERE status = 'pending' AND category "
                             "IS NULL LIMIT $1) p",
                             static_cast<std::int64_t>(max))[0]
          .as<std::int64_t>();
    };
    total_ = co_await db_.async_run(count);
    auto trgm = [](pqxx::connection& c) { return near_matches_available(c); };
    near_ = co_await db_.async_run(trgm);
    if (!near_) warn_no_trgm_once();
    co_await connect_limits();
    router_ = std::make_unique<mapping_router>(io_.get_executor(), settings_, limits_ ? &*limits_ : nullptr,
                                               ctx_.request().id);
    report_progress();

    for (std::size_t i = 0; i < o_.concurrency; ++i)
      asio::co_spawn(io_, caller(), [this](std::exception_ptr e) {
        ++callers_done_;
        note_failure(e);
        wake();
      });
    // Whatever ends the preparer, the callers must be told, or they would
    // wait for batches forever.
    std::exception_ptr prepare_failure;
    try {
      co_await prepare();
    } catch (...) {
      prepare_failure = std::current_exception();
    }
    note_failure(prepare_failure);
    closed_ = true;
    wake();
    while (callers_done_ < o_.concurrency || writes_in_flight_ > 0) co_await wait();
    if (write_failure_) co_return;

    // Rows that arrived answered (uploads) never pass through a claim:
    // give them their merchant_key with what is left of this run's budget,
    // so per-merchant statistics group them with the rest.
    if (claimed_ < o_.max_rows && !ctx_.should_stop()) co_await fill_missing_keys(o_.max_rows - claimed_);

    if (claimed_ >= o_.max_rows) {
      auto any = [](pqxx::connection& c) {
        bool pending = false;
        {
          pqxx::nontransaction tx{c};
          pending = !tx.exec("SELECT 1 FROM llm_mappings WHERE status = 'pending' AND category IS NULL LIMIT 1").empty();
        }
        return pending || !unkeyed_rows(c, 1).empty();
      };
      s_.rows_remain = co_await db_.async_run(any);
    }
    if (limits_) limits_->close();
  }

  awaitable<void> fill_missing_keys(std::size_t budget) {
    constexpr std::size_t chunk = 5000;
    while (budget > 0 && !ctx_.should_stop()) {
      const std::size_t want = std::min(chunk, budget);
      auto find = [want](pqxx::connection& c) { return unkeyed_rows(c, want); };
      std::vector<claimed_row> rows = co_await db_.async_run(find);
      if (rows.empty()) co_return;
      std::vector<std::pair<std::int64_t, std::string>> keys;
      for (const auto& r : rows) keys.emplace_back(r.id, normalize_merchant(r.merchant_name));
      auto fill = [&keys](pqxx::connection& c) { return fill_keys(c, keys); };
      s_.keys_filled += static_cast<std::int64_t>(co_await db_.async_run(fill));
      budget -= rows.size();
      claimed_ += rows.size();  // counts against max_rows, so a huge backlog is split across runs
      if (rows.size() < want) co_return;
    }
  }

  awaitable<void> connect_limits() {
    if (!mapping_router::needs_limits(settings_.config)) co_return;
    const std::string& url = ctx_.resources().redis_url;
    auto cfg = redis::parse_url(url);
    if (url.empty() || !cfg) {
      log::warning("llm.map_pending: the providers' per-minute limits are not enforced: no Redis URL for shared "
                   "limits (the worker's --broker)");
      co_return;
    }
    limits_.emplace(io_.get_executor(), *cfg);
    std::string failure;
    try {
      co_await limits_->async_connect();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    // Without the shared limits the providers' quotas could be overrun:
    // try again later rather than call unlimited.
    if (!failure.empty())
      ctx_.retry(std::chrono::seconds(30),
                 fmt::format("Redis for the providers' rate limits cannot be reached: {}", failure));
  }

  // Claims, answers from the cache, and queues the rest for the callers.
  awaitable<void> prepare() {
    auto last_progress = std::chrono::steady_clock::now();
    const std::size_t chunk = std::max<std::size_t>(o_.batch_size * o_.concurrency, o_.batch_size);
    while (claimed_ < o_.max_rows && !ctx_.should_stop() && !write_failure_) {
      // Keep at most two batches per caller queued: claimed rows wait under
      // a lease, and a short queue keeps that wait short.
      while (queue_.size() >= 2 * o_.concurrency && !write_failure_) co_await wait();
      const std::size_t want = std::min(chunk, o_.max_rows - claimed_);
      auto claim = [this, want](pqxx::connection& c) { return claim_pending(c, token_, want, o_.lease); };
      std::vector<claimed_row> rows = co_await db_.async_run(claim);
      if (rows.empty()) {
        // Rows deferred because another worker was asking their name come
        // back soon; wait for them a while rather than end with them
        // pending — unless no row is pending any more.
        if (s_.rows_deferred > 0 && std::chrono::steady_clock::now() - last_progress < wait_for_deferred) {
          auto any = [](pqxx::connection& c) { return count_pending(c) > 0; };
          const bool pending = co_await db_.async_run(any);
          if (!pending) break;
          co_await sleep(milliseconds(500));
          continue;
        }
        break;
      }
      last_progress = std::chrono::steady_clock::now();
      claimed_ += rows.size();
      co_await answer_chunk(std::move(rows));
    }
  }

  awaitable<void> answer_chunk(std::vector<claimed_row> claimed) {
    write_batch now;  // rows answered without a call
    std::map<std::string, std::vector<pending_row>> by_key;
    for (auto& r : claimed) {
      std::string key = normalize_merchant(r.merchant_name);
      if (r.attempts > o_.max_attempts) {
        now.rows.push_back(failed_row(r.id, key,
                                      fmt::format("gave up after {} claims: the claim lease ran out each time (a "
                                                  "worker died or stalled mid-batch)",
                                                  r.attempts - 1)));
        continue;
      }
      by_key[key].push_back(pending_row{r.id, std::move(r.merchant_name), r.attempts});
    }
    std::vector<std::string> keys;
    for (const auto& [k, rows] : by_key) keys.push_back(k);
    int hits = 0, near_hits = 0;

    const bool accept_heuristic = !has_model_provider(settings_.config);
    auto exact = [&keys, accept_heuristic](pqxx::connection& c) { return lookup_exact(c, keys, accept_heuristic); };
    std::vector<cached_answer> found = co_await db_.async_run(exact);
    hits += answer_from_cache(found, "cache", by_key, now);
    if (near_ && !by_key.empty()) {
      keys.clear();
      for (const auto& [k, rows] : by_key) keys.push_back(k);
      auto near = [&keys, this](pqxx::connection& c) {
        return lookup_near(c, keys, settings_.config.near_threshold, settings_.config.near_min_confidence,
                           settings_.config.near_timeout);
      };
      std::optional<std::vector<cached_answer>> close = co_await db_.async_run(near);
      if (close)
        near_hits += answer_from_cache(*close, "near", by_key, now);
      else
        ++s_.near_skipped;
    }

    // Names a batch of this sweep is already asking: their rows ride along.
    for (auto it = by_key.begin(); it != by_key.end();) {
      auto in = asking_.find(it->first);
      if (in == asking_.end() || in->second.first->writing) {
        ++it;
        continue;
      }
      auto& [batch, index] = in->second;
      for (auto& r : it->second) batch->rows[index].push_back(std::move(r));
      it = by_key.erase(it);
    }

    keys.clear();
    for (const auto& [k, rows] : by_key) keys.push_back(k);
    auto reserve = [&keys, this](pqxx::connection& c) { return reserve_names(c, keys, token_, o_.lease); };
    std::vector<std::string> reserved = co_await db_.async_run(reserve);
    std::set<std::string> mine(reserved.begin(), reserved.end());

    // A name answered between the cache lookup and the reservation is in
    // the cache now: look again, so it is not asked twice.
    if (!reserved.empty()) {
      auto again = [&reserved](pqxx::connection& c) { return lookup_exact(c, reserved, true); };
      std::vector<cached_answer> late = co_await db_.async_run(again);
      for (const auto& a : late) {
        mine.erase(a.key);
        now.done_names.push_back(a.key);
      }
      hits += answer_from_cache(late, "cache", by_key, now);
    }

    std::vector<std::int64_t> busy;
    auto batch = std::make_shared<prepared_batch>();
    for (auto& [key, rows] : by_key) {
      if (!mine.count(key)) {
        for (const auto& r : rows) busy.push_back(r.id);
        continue;
      }
      asking_[key] = {batch, batch->items.size()};
      batch->items.push_back(batch_item{key, rows.front().name});
      batch->rows.push_back(std::move(rows));
      if (batch->items.size() == o_.batch_size) {
        queue_.push_back(std::move(batch));
        batch = std::make_shared<prepared_batch>();
      }
    }
    if (!batch->items.empty()) queue_.push_back(std::move(batch));
    wake();

    s_.cache_hits += hits;
    s_.near_hits += near_hits;
    if (hits + near_hits > 0 || !now.rows.empty()) {
      interaction counts;
      counts.job_id = ctx_.request().id;
      counts.provider = "cache";
      counts.cache_hits = hits;
      counts.near_hits = near_hits;
      counts.cache_misses = static_cast<int>(mine.size());
      now.interactions.push_back(std::move(counts));
    }
    if (!busy.empty()) {
      s_.rows_deferred += static_cast<std::int64_t>(busy.size());
      auto defer = [&busy, this](pqxx::connection& c) { defer_rows(c, busy, token_, defer_for_busy_name); };
      co_await db_.async_run(defer);
    }
    if (!now.rows.empty() || !now.done_names.empty()) {
      auto write = [&now, this](pqxx::connection& c) { return write_results(c, token_, now); };
      co_await db_.async_run(write);
      count_written(now);
    }
  }

  // Moves the rows of every answered name into `out`; returns how many.
  int answer_from_cache(const std::vector<cached_answer>& answers, const char* source,
                        std::map<std::string, std::vector<pending_row>>& by_key, write_batch& out) {
    int rows = 0;
    for (const auto& a : answers) {
      auto it = by_key.find(a.key);
      if (it == by_key.end()) continue;
      for (const auto& r : it->second) {
        row_outcome o;
        o.id = r.id;
        o.key = a.key;
        o.mapped = true;
        o.category = a.category;
        o.ticker = a.ticker;
        // A near match is only as sure as the names are alike.
        o.confidence = std::string_view(source) == "near" ? a.confidence * a.similarity : a.confidence;
        o.source = source;
        o.provider = a.provider;
        o.model = a.model;
        out.rows.push_back(std::move(o));
        ++rows;
      }
      out.hits.emplace_back(a.matched_key, static_cast<std::int64_t>(it->second.size()));
      by_key.erase(it);
    }
    return rows;
  }

  static row_outcome failed_row(std::int64_t id, std::string key, std::string error) {
    row_outcome o;
    o.id = id;
    o.key = std::move(key);
    o.mapped = false;
    o.error = std::move(error);
    return o;
  }

  awaitable<void> caller() {
    while (true) {
      while (queue_.empty() && !closed_ && !write_failure_) co_await wait();
      if (queue_.empty() || write_failure_) break;
      std::shared_ptr<prepared_batch> b = std::move(queue_.front());
      queue_.pop_front();
      wake();  // room in the queue for the preparer
      std::vector<batch_item> items = b->items;
      batch_result result = co_await router_->async_map(std::move(items));
      b->writing = true;
      for (const auto& item : b->items) asking_.erase(item.key);
      ++writes_in_flight_;
      asio::co_spawn(io_, write_answer(std::move(b), std::move(result)), [this](std::exception_ptr e) {
        --writes_in_flight_;
        note_failure(e);
        wake();
      });
    }
  }

  awaitable<void> write_answer(std::shared_ptr<prepared_batch> b, batch_result result) {
    write_batch w;
    std::vector<std::int64_t> retry_later;
    for (std::size_t i = 0; i < b->items.size(); ++i) {
      const std::string& key = b->items[i].key;
      w.done_names.push_back(key);
      if (!result.answered) {
        for (const auto& r : b->rows[i]) {
          if (r.attempts >= o_.max_attempts)
            w.rows.push_back(failed_row(r.id, key, fmt::format("no provider answered in {} attempts: {}", r.attempts,
                                                               result.error)));
          else
            retry_later.push_back(r.id);
        }
        continue;
      }
      const item_answer& a = result.items[i];
      if (!a.answer) {
        for (const auto& r : b->rows[i]) w.rows.push_back(failed_row(r.id, key, a.error));
        continue;
      }
      w.answers.push_back(model_answer{key, a.answer->category, a.answer->ticker, a.answer->confidence, result.source,
                                       result.provider, result.model});
      for (const auto& r : b->rows[i]) {
        row_outcome o;
        o.id = r.id;
        o.key = key;
        o.mapped = true;
        o.category = a.answer->category;
        o.ticker = a.answer->ticker;
        o.confidence = a.answer->confidence;
        o.source = result.source;
        o.provider = result.provider;
        o.model = result.model;
        w.rows.push_back(std::move(o));
        if (result.source == "heuristic") ++s_.heuristic_rows;
      }
    }
    w.interactions = std::move(result.interactions);
    s_.llm_calls += result.llm_calls;
    s_.tokens_in += result.tokens_in;
    s_.tokens_out += result.tokens_out;
    s_.cost_usd += result.cost_usd;
    if (!result.answered)
      log::warning("llm.map_pending: no provider answered a batch of {} names ({}); {} rows are put back for a later "
                   "sweep",
                   b->items.size(), result.error, retry_later.size());
    auto write = [&w, &retry_later, this](pqxx::connection& c) {
      std::size_t n = write_results(c, token_, w);
      if (!retry_later.empty()) defer_rows(c, retry_later, token_, defer_for_failed_call);
      return n;
    };
    co_await db_.async_run(write);
    s_.rows_deferred += static_cast<std::int64_t>(retry_later.size());
    count_written(w);
  }

  void count_written(const write_batch& w) {
    for (const auto& r : w.rows) (r.mapped ? s_.rows_mapped : s_.rows_failed) += 1;
    report_progress();
  }

  void report_progress() {
    const std::int64_t done = s_.rows_mapped + s_.rows_failed;
    ctx_.progress(done, std::max<std::int64_t>(total_, done), "rows",
                  json::object{{"rows_mapped", s_.rows_mapped},
                               {"rows_failed", s_.rows_failed},
                               {"cache_hits", s_.cache_hits},
                               {"near_hits", s_.near_hits},
                               {"llm_calls", s_.llm_calls}});
  }

  void warn_no_trgm_once() {
    static bool said = false;
    if (std::exchange(said, true)) return;
    log::warning("llm.map_pending: the pg_trgm extension is not installed in this database, so near matches are "
                 "off (exact cache hits still work); install PostgreSQL's contrib package and run `celeriac migrate "
                 "--with-app-tables` again to enable them");
  }

  void note_failure(std::exception_ptr e) {
    if (e && !write_failure_) write_failure_ = e;
    if (e) wake();
  }

  void wake() { wake_.cancel(); }
  awaitable<void> wait() { co_await wake_.async_wait(wait_token); }
  awaitable<void> sleep(milliseconds d) {
    asio::steady_timer t(io_);
    t.expires_after(d);
    co_await t.async_wait(wait_token);
  }

  app::task_context& ctx_;
  const map_pending_options& o_;
  const llm_settings& settings_;
  const std::string token_;
  asio::io_context io_;
  pg::pool db_;
  asio::steady_timer wake_;
  std::optional<redis::connection> limits_;
  std::unique_ptr<mapping_router> router_;

  std::deque<std::shared_ptr<prepared_batch>> queue_;
  std::map<std::string, std::pair<std::shared_ptr<prepared_batch>, std::size_t>> asking_;
  bool closed_ = false;
  bool near_ = false;
  std::size_t callers_done_ = 0;
  std::size_t writes_in_flight_ = 0;
  std::size_t claimed_ = 0;
  std::int64_t total_ = 0;
  std::exception_ptr write_failure_;
  map_pending_summary s_;
};

}  // namespace

map_pending_summary run_map_pending(app::task_context& ctx, const map_pending_options& options,
                                    const llm_settings& settings) {
  sweep s(ctx, options, settings);
  return s.run();
}

}  // namespace celeriac::tasks::llm
