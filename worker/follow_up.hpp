#pragma once
// The messages a task asked to have sent after it succeeded
// (task_context::send_task_after), built the way Celery builds a task sent
// from a task: a child of the sender, in the sender's tree.
//
// (Its own file also because g++ 12 crashes compiling consumer.cpp with
// this function inside it.)

#include "app/task_context.hpp"
#include "broker/queue_name.hpp"
#include "celery/task_message.hpp"

namespace celeriac::worker {

// The message for `f`, sent by `parent`, which came from queue `from` (the
// default queue of the follow-up).
celery::task_message follow_up_message(const celery::task_message& parent, const broker::queue_name& from,
                                       app::follow_up_task f);

}  // namespace celeriac::worker
