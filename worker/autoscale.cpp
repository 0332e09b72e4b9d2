#include "worker/autoscale.hpp"

#include <algorithm>

namespace celeriac::worker {

int autoscale_target(const autoscale_input& in, autoscale_state& state) {
  const long demand = static_cast<long>(in.busy) + std::max(0L, in.backlog);
  const int wanted = static_cast<int>(std::clamp<long>(demand, in.min, in.max));
  if (wanted > in.current) {
    state.last_grown = in.now;
    return wanted;
  }
  if (wanted < in.current && in.now - state.last_grown >= in.keepalive) {
    // Shrink towards the demand, one step per check, as Celery does
    // (scale_down(1) each time the keepalive has passed).
    return std::max(wanted, in.current - 1);
  }
  return in.current;
}

}  // namespace celeriac::worker
