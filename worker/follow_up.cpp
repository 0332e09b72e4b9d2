#include "worker/follow_up.hpp"

#include "celery/message_builder.hpp"

namespace celeriac::worker {

celery::task_message follow_up_message(const celery::task_message& parent, const broker::queue_name& from,
                                       app::follow_up_task f) {
  celery::message_options o;
  o.queue = f.queue.empty() ? from.str() : std::move(f.queue);
  o.parent_id = parent.headers.id;
  o.root_id = parent.root_id_or_id();
  return celery::make_task_message(std::move(f.name), std::move(f.args), std::move(f.kwargs), std::move(o));
}

}  // namespace celeriac::worker
