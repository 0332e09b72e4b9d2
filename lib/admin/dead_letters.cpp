#include "admin/dead_letters.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "admin/keys.hpp"
#include "admin/redis_calls.hpp"
#include "admin/scripts.hpp"
#include "celery/kombu_redis.hpp"

namespace celeriac::admin {
namespace {

constexpr std::size_t page_size = 500;   // entries per LRANGE
constexpr std::size_t batch_size = 500;  // scripts or LREMs per pipeline

std::vector<indexed_entry> matching_entries(redis::sync_client& client, const dead_filter& filter) {
  std::vector<indexed_entry> out;
  for_each_dead_entry(client, [&](indexed_entry&& item) {
    if (filter.matches(item.entry)) out.push_back(std::move(item));
    return true;
  });
  return out;
}

bool filter_is_empty(const dead_filter& f) { return !f.reason && !f.task_id; }

script_call requeue_call(const dead_entry& e, const requeue_plan& plan) {
  return script_call{{std::string(dead_letter_key), plan.list, std::string(deliveries_key),
                      std::string(binding_prefix) + plan.queue},
                     {e.text, plan.envelope, plan.delivery_tag, celery::binding_member(plan.queue)}};
}

// Runs one pipeline of requeue scripts; owners[k] is the outcome calls[k] is for.
void run_requeues(redis::sync_client& client, std::vector<requeue_outcome>& outcomes,
                  const std::vector<script_call>& calls, const std::vector<std::size_t>& owners) {
  auto replies = eval_each(client, scripts::requeue_dead, calls, "requeueing dead-letter entries");
  for (std::size_t k = 0; k < replies.size(); ++k)
    outcomes[owners[k]].state = integer_reply(replies[k], "the requeue script") == 1
                                    ? requeue_outcome::status::requeued
                                    : requeue_outcome::status::gone;
}

}  // namespace

std::int64_t dead_count(redis::sync_client& client) {
  redis::request req;
  req.push("LLEN", dead_letter_key);
  return integer_reply(exec_checked(client, req, "LLEN celeriac.dead").front(), "LLEN celeriac.dead");
}

void for_each_dead_entry(redis::sync_client& client, const std::function<bool(indexed_entry&&)>& visit) {
  for (std::size_t start = 0;; start += page_size) {
    redis::request req;
    req.push("LRANGE", dead_letter_key, start, start + page_size - 1);
    auto reply = std::move(exec_checked(client, req, "LRANGE celeriac.dead").front());
    auto items = reply.elements();
    if (!items) throw redis_failure("unexpected reply to LRANGE celeriac.dead: " + reply.to_debug_string());
    for (std::size_t i = 0; i < items->size(); ++i) {
      indexed_entry item{start + i, parse_dead_entry(string_reply((*items)[i], "LRANGE celeriac.dead"))};
      if (!visit(std::move(item))) return;
    }
    if (items->size() < page_size) return;
  }
}

dead_listing list_dead(redis::sync_client& client, const dead_filter& filter, std::size_t limit) {
  dead_listing out;
  out.total = static_cast<std::size_t>(dead_count(client));
  const bool count_all = !filter_is_empty(filter);  // without a filter, matched == total: stop at the limit
  for_each_dead_entry(client, [&](indexed_entry&& item) {
    if (!filter.matches(item.entry)) return true;
    ++out.matched;
    if (out.shown.size() < limit) out.shown.push_back(std::move(item));
    return count_all || out.shown.size() < limit;
  });
  if (!count_all) out.matched = std::max(out.total, out.shown.size());
  return out;
}

std::vector<requeue_outcome> requeue_dead(redis::sync_client& client, const dead_filter& filter) {
  auto items = matching_entries(client, filter);
  std::ranges::reverse(items);  // oldest first
  std::vector<requeue_outcome> outcomes;
  outcomes.reserve(items.size());
  std::vector<script_call> calls;
  std::vector<std::size_t> owners;
  for (auto& item : items) {
    requeue_outcome o{std::move(item)};
    auto plan = plan_requeue(o.item.entry);
    if (plan) {
      o.queue = plan->queue;
      o.list = plan->list;
      calls.push_back(requeue_call(o.item.entry, *plan));
      owners.push_back(outcomes.size());
    } else {
      o.detail = plan.error().why;
    }
    outcomes.push_back(std::move(o));
    if (calls.size() == batch_size) {
      run_requeues(client, outcomes, calls, owners);
      calls.clear();
      owners.clear();
    }
  }
  if (!calls.empty()) run_requeues(client, outcomes, calls, owners);
  return outcomes;
}

std::size_t purge_dead(redis::sync_client& client, const dead_filter& filter) {
  if (filter_is_empty(filter)) {
    script_call call{{std::string(dead_letter_key)}, {}};
    return static_cast<std::size_t>(
        integer_reply(eval(client, scripts::delete_list, std::move(call), "deleting celeriac.dead"), "DEL"));
  }
  auto items = matching_entries(client, filter);
  std::size_t removed = 0;
  for (std::size_t first = 0; first < items.size(); first += batch_size) {
    redis::request req;
    const std::size_t last = std::min(items.size(), first + batch_size);
    for (std::size_t i = first; i < last; ++i) req.push("LREM", dead_letter_key, 1, items[i].entry.text);
    for (const auto& r : exec_checked(client, req, "LREM celeriac.dead"))
      removed += static_cast<std::size_t>(integer_reply(r, "LREM celeriac.dead"));
  }
  return removed;
}

}  // namespace celeriac::admin
