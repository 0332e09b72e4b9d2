#pragma once
// A chord header task's outcome on its way to Redis: joined to its chord's
// counter in one Lua step with its own result, and the chord completed by
// whichever member completes the count (worker/chord_completion.cpp; the
// Redis side is lib/broker/chord_store.hpp, the rules lib/celery/chord_join.hpp).

#include <optional>
#include <string>

#include "broker/kombu_transport.hpp"
#include "celery/canvas_apply.hpp"
#include "celery/chord_join.hpp"

namespace celeriac::worker {

struct chord_member_write {
  celery::chord_part part;
  std::optional<broker::result_write> meta;  // the task's own result (none with ignore_result)
  celery::current_task completing;           // the finished task: the body's parent and root
};

}  // namespace celeriac::worker
