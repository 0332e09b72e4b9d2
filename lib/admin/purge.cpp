#include "admin/purge.hpp"

#include "admin/redis_calls.hpp"
#include "admin/scripts.hpp"
#include "broker/delayed.hpp"
#include "celery/kombu_redis.hpp"

namespace celeriac::admin {

std::vector<purged> purge_queues(redis::sync_client& client, const std::vector<broker::queue_name>& queues) {
  std::vector<script_call> calls;
  for (const auto& q : queues) {
    auto keys = celery::priority_lists(q.str());
    keys.push_back(broker::delayed_key(q));
    calls.push_back(script_call{std::move(keys), {}});
  }
  auto replies = eval_each(client, scripts::purge_queue, calls, "purging queues");
  std::vector<purged> out;
  for (std::size_t i = 0; i < queues.size(); ++i) {
    auto parts = replies[i].elements();
    if (!parts || parts->size() != 2)
      throw redis_failure("unexpected reply to the purge script: " + replies[i].to_debug_string());
    out.push_back(purged{queues[i], integer_reply((*parts)[0], "purge"), integer_reply((*parts)[1], "purge")});
  }
  return out;
}

}  // namespace celeriac::admin
