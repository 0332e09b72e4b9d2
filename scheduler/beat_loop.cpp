#include "scheduler/beat_loop.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <exception>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "celery/kombu_redis.hpp"
#include "celery/message_codec.hpp"
#include "scheduler/beat_message.hpp"
#include "scheduler/dry_run.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/uuid.hpp"

namespace celeriac::scheduler {

namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds first_backoff{100};
constexpr std::chrono::milliseconds max_backoff{5'000};

std::chrono::sys_seconds floor_seconds(util::wall_time t) { return std::chrono::floor<std::chrono::seconds>(t); }

// The steady-clock instant at which the wall clock will read `wall`.
steady_clock::time_point steady_at(std::chrono::sys_seconds wall) {
  const auto wall_now = util::wall_now();
  return steady_clock::now() + std::chrono::duration_cast<steady_clock::duration>(wall - wall_now);
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

std::string make_instance_token() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}:{}", host.data(), ::getpid(), util::uuid4());
}

beat_loop::beat_loop(asio::any_io_executor ex, beat_config cfg, schedule_source source,
                     std::vector<schedule_entry> entries)
    : ex_(ex),
      cfg_(std::move(cfg)),
      conn_(ex, cfg_.broker),
      store_(conn_, make_beat_keys(cfg_.name), make_instance_token(), cfg_.lease, cfg_.redis_timeout),
      source_(std::move(source)),
      entries_(std::move(entries)),
      backoff_(first_backoff),
      timer_(ex) {
  next_file_check_ = steady_clock::now() + cfg_.reload_poll;
}

void beat_loop::stop() {
  stopping_ = true;
  timer_.cancel();
}

void beat_loop::reload() {
  reload_requested_ = true;
  timer_.cancel();
}

// ---- The loop ----------------------------------------------------------

asio::awaitable<void> beat_loop::async_run() {
  const std::size_t enabled =
      std::count_if(entries_.begin(), entries_.end(), [](const schedule_entry& e) { return e.enabled; });
  log::info("beat: Starting... schedule {} ({}, {} enabled), broker {}, state {}:*, lease {} ms, instance {}",
            source_.path().string(), plural(entries_.size(), "entry", "entries"), enabled,
            redis::to_string(cfg_.broker), fmt::format("celeriac.beat.{}", cfg_.name), cfg_.lease.count(),
            store_.token());
  while (!stopping_) {
    std::string failure;
    try {
      co_await async_step();
    } catch (const std::exception& e) {
      failure = e.what();
      if (failure.empty()) failure = "unknown error";
    }
    if (failure.empty()) {
      backoff_ = first_backoff;
      co_await async_sleep_until(next_wake());
      continue;
    }
    if (stopping_) break;
    log::error("beat: {}; reconnecting to {} in {} ms", failure, redis::to_string(cfg_.broker), backoff_.count());
    if (cfg_.metrics) cfg_.metrics->redis_error();
    reconnecting_ = true;  // already said
    conn_.close();
    need_sync_ = true;
    co_await async_sleep_until(steady_clock::now() + backoff_);
    backoff_ = std::min(2 * backoff_, max_backoff);
  }
  co_await async_shutdown();
}

asio::awaitable<void> beat_loop::async_step() {
  poll_schedule();  // first: a reload needs no Redis
  if (!conn_.is_connected()) {
    if (connected_once_ && !reconnecting_) {
      log::warning("beat: Lost the connection to {}; reconnecting", redis::to_string(cfg_.broker));
      need_sync_ = true;
    }
    reconnecting_ = true;
    co_await conn_.async_connect();
    connected_once_ = true;
    reconnecting_ = false;
    co_await store_.async_load_scripts();
    log::info("beat: Connected to {}", redis::to_string(cfg_.broker));
    need_sync_ = true;
    next_lease_ = steady_clock::now();  // renew (or acquire) at once: the lease may have lapsed meanwhile
  }
  if (steady_clock::now() >= next_lease_) co_await async_lease_step();
  if (leader_) co_await async_fire_due();
}

asio::awaitable<void> beat_loop::async_sleep_until(steady_time t) {
  if (stopping_ || reload_requested_ || t <= steady_clock::now()) co_return;
  timer_.expires_at(t);
  boost::system::error_code ec;  // operation_aborted: stop() or reload()
  co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

beat_loop::steady_time beat_loop::next_wake() const {
  steady_time wake = std::min(next_lease_, next_file_check_);
  if (!leader_ || !conn_.is_connected()) return wake;
  if (need_sync_) return steady_clock::now();
  for (const auto& e : entries_) {
    if (!e.enabled) continue;
    auto it = last_.find(e.name);
    if (it == last_.end()) continue;
    const auto tick = e.next_after(it->second);
    if (tick == std::chrono::sys_seconds::max()) continue;
    wake = std::min(wake, steady_at(tick));
  }
  return wake;
}

// ---- Lease -------------------------------------------------------------

asio::awaitable<void> beat_loop::async_lease_step() {
  const auto started = steady_clock::now();
  const auto period = cfg_.lease / 3;
  if (leader_) {
    const bool held = co_await store_.async_renew();
    if (held) {
      next_lease_ = started + period;
      co_return;
    }
    step_down("the lease expired or another instance holds it");
  }
  const lease_attempt attempt = co_await store_.async_acquire();
  if (attempt.acquired) {
    leader_ = true;
    need_sync_ = true;
    holder_seen_.clear();
    next_lease_ = started + period;
    log::info("beat: Became the leader of schedule \"{}\" (lease {}, {} ms)", cfg_.name, store_.keys().lease,
              cfg_.lease.count());
    co_return;
  }
  if (attempt.holder != holder_seen_) {
    log::info("beat: Standing by: {} holds the lease of schedule \"{}\"", attempt.holder, cfg_.name);
    holder_seen_ = attempt.holder;
  }
  // Try again every lease/3, and just after the holder's lease runs out,
  // so a dead leader is replaced within the lease time.
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(period);
  if (attempt.holder_ttl >= std::chrono::milliseconds{0})
    wait = std::min(wait, attempt.holder_ttl + std::chrono::milliseconds{1});
  next_lease_ = started + wait;
}

void beat_loop::step_down(std::string_view why) {
  if (!leader_) return;
  log::warning("beat: No longer the leader of schedule \"{}\": {}; standing by", cfg_.name, why);
  leader_ = false;
  need_sync_ = true;
  next_lease_ = steady_clock::now();
}

asio::awaitable<void> beat_loop::async_shutdown() {
  std::string failure;
  if (leader_ && conn_.is_connected()) {
    try {
      const bool released = co_await store_.async_release();
      if (released) log::info("beat: Released the lease of schedule \"{}\"", cfg_.name);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!failure.empty()) {
    log::warning("beat: Could not release the lease ({}); a standby takes over when it expires in {} ms", failure,
                 cfg_.lease.count());
  }
  leader_ = false;
  conn_.close();
  log::info("beat: Stopped");
}

// ---- Schedule file -----------------------------------------------------

void beat_loop::poll_schedule() {
  const auto now = steady_clock::now();
  if (!reload_requested_ && now < next_file_check_) return;
  next_file_check_ = now + cfg_.reload_poll;
  const bool forced = reload_requested_;
  reload_requested_ = false;
  if (!forced && !source_.changed()) return;
  auto loaded = source_.load();
  if (!loaded) {
    log::error("beat: Schedule file {} does not load; still running the {} loaded before. Fix it and save "
               "again (or send SIGHUP):\n{}",
               source_.path().string(), plural(entries_.size(), "entry", "entries"), loaded.error().to_string());
    return;
  }
  const std::string changes = describe_changes(entries_, *loaded);
  if (changes.empty()) {
    log::info("beat: Reloaded {}: no changes", source_.path().string());
    return;
  }
  log::info("beat: Reloaded {}: {}", source_.path().string(), changes);
  entries_ = std::move(*loaded);
  need_sync_ = true;
}

// ---- Ticks -------------------------------------------------------------

asio::awaitable<void> beat_loop::async_sync() {
  const auto now = floor_seconds(util::wall_now());
  std::map<std::string, std::chrono::sys_seconds> fresh;
  std::vector<std::string> names;
  for (const auto& e : entries_) {
    if (!e.enabled) continue;
    names.push_back(e.name);
    const std::string fingerprint = entry_fingerprint(e);
    const std::optional<entry_sync> s = co_await store_.async_sync(e.name, fingerprint, now);
    if (!s) {
      step_down("the lease was lost while reading entry state");
      co_return;
    }
    if (s->origin != entry_origin::known) {
      log::info("beat: {} entry {} ({}): starts now, first tick {}",
                s->origin == entry_origin::added ? "New" : "Changed timing for", e.name, e.when.describe(),
                format_utc(e.next_after(s->last)));
    }
    fresh[e.name] = s->last;
  }
  const auto removed = co_await store_.async_forget_others(names);
  if (!removed) {
    step_down("the lease was lost while removing old entry state");
    co_return;
  }
  for (const auto& name : *removed)
    log::info("beat: Entry {} is no longer scheduled (removed or disabled); its last tick was forgotten", name);
  last_ = std::move(fresh);
  need_sync_ = false;
}

void beat_loop::log_missed(const schedule_entry& e, const tick_plan& plan) const {
  if (plan.missed == 0) return;
  const std::string span =
      plan.missed == 1 ? format_utc(*plan.missed_last)
                       : fmt::format("{} to {}", format_utc(*plan.missed_first), format_utc(*plan.missed_last));
  const std::string count = fmt::format("{}{}", plan.missed_capped ? "at least " : "", plan.missed);
  std::string outcome;
  if (e.missed == missed_policy::skip) {
    outcome = "missed = \"skip\": not sent";
  } else if (plan.send.size() == 1 && plan.send.front() == *plan.missed_last) {
    outcome = fmt::format("missed = \"run_once\": one catch-up run for {}, {} collapsed into it",
                          format_utc(*plan.missed_last), plan.not_sent);
  } else {
    outcome = fmt::format("missed = \"run_once\": collapsed into the run for {}", format_utc(plan.send.front()));
  }
  log::warning("Scheduler: Entry {} missed {} {} while no beat ran ({}); {}", e.name, count,
               plan.missed == 1 ? "tick" : "ticks", span, outcome);
}

asio::awaitable<void> beat_loop::async_fire_due() {
  if (need_sync_) {
    co_await async_sync();
    if (!leader_ || need_sync_) co_return;
  }
  const util::wall_time now = util::wall_now();
  const auto now_s = floor_seconds(now);
  const auto window = cfg_.takeover_window();

  struct pending {
    const schedule_entry* entry;
    std::chrono::sys_seconds tick;
    std::string id;  // empty: record only
  };
  std::vector<tick_claim> claims;
  std::vector<pending> sent;
  for (const auto& e : entries_) {
    if (!e.enabled) continue;
    auto it = last_.find(e.name);
    if (it == last_.end()) continue;
    const tick_plan plan = plan_ticks(e, it->second, now_s, window);
    if (plan.empty()) continue;
    log_missed(e, plan);
    const std::string list = beat_message_list(e);
    const std::string binding_key = fmt::format("_kombu.binding.{}", e.queue);
    const std::string member = celery::binding_member(e.queue);
    for (const auto tick : plan.send) {
      celery::task_message m = make_beat_message(e, cfg_.name, tick, now);
      sent.push_back({&e, tick, m.headers.id});
      claims.push_back({e.name, tick, list, binding_key, member, celery::encode_message(m)});
    }
    if (plan.record) {
      sent.push_back({&e, *plan.record, {}});
      claims.push_back({e.name, *plan.record, list, binding_key, member, {}});
    }
  }
  if (claims.empty()) co_return;

  const util::wall_time claiming_at = util::wall_now();
  const std::vector<claim_result> results = co_await store_.async_claim(claims);
  const util::wall_time sent_at = util::wall_now();
  log::debug("Scheduler: woke {:.3f} ms after {}, built {} in {:.3f} ms, claimed in {:.3f} ms",
             std::chrono::duration<double, std::milli>(now - now_s).count(), format_utc(now_s),
             plural(claims.size(), "message", "messages"),
             std::chrono::duration<double, std::milli>(claiming_at - now).count(),
             std::chrono::duration<double, std::milli>(sent_at - claiming_at).count());
  std::vector<std::string> refused;
  std::vector<const pending*> already;
  for (std::size_t i = 0; i < results.size() && i < sent.size(); ++i) {
    const pending& p = sent[i];
    switch (results[i].outcome) {
      case claim_outcome::claimed: {
        auto& last = last_[p.entry->name];
        last = std::max(last, p.tick);
        if (p.id.empty()) break;
        const double late_ms = std::chrono::duration<double, std::milli>(sent_at - p.tick).count();
        log::info("Scheduler: Sending due task {} ({}) for tick {}: id {}, sent {:.3f} ms after the tick",
                  p.entry->name, p.entry->task, format_utc(p.tick), p.id, late_ms);
        if (cfg_.metrics)
          cfg_.metrics->tick_sent(p.entry->name, p.entry->task, late_ms / 1000, util::unix_seconds(p.tick));
        break;
      }
      case claim_outcome::already_fired:
        already.push_back(&p);
        if (cfg_.metrics) cfg_.metrics->tick_already_sent(p.entry->name);
        break;
      case claim_outcome::not_leader:
        step_down("the lease expired or another instance holds it");
        co_return;
      case claim_outcome::refused:
        refused.push_back(fmt::format("tick {} of {}: {}", format_utc(p.tick), p.entry->name, results[i].error));
        break;
    }
  }
  for (const pending* p : already) {
    log::warning("Scheduler: Tick {} of {} was already sent by another beat instance; not sending it again",
                 format_utc(p->tick), p->entry->name);
    const auto stored = co_await store_.async_read_last(p->entry->name);
    auto& last = last_[p->entry->name];
    last = std::max(last, stored.value_or(p->tick));
  }
  if (!refused.empty()) {
    throw beat_store_error(fmt::format("Redis refused to send {}; they stay due and are retried",
                                       fmt::join(refused, "; ")));
  }
}

}  // namespace celeriac::scheduler
