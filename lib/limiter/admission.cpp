#include "limiter/admission.hpp"

#include <cmath>

#include "limiter/scripts.hpp"
#include "redis/script.hpp"

namespace celeriac::limiter {

namespace asio = boost::asio;

asio::awaitable<batch_admission> async_admit_batch(redis::connection& conn, const limit& lim, std::size_t runs,
                                                   unsigned burst) {
  const pacing p = pacing_for(lim, burst);
  const script_call call = admit_call(lim, p, runs);
  const resp::value reply = co_await redis::async_eval(conn, scripts::admit(), call.keys, call.args);
  const admit_reply r = read_admit_reply(reply, lim, runs);
  const auto interval = std::chrono::microseconds(static_cast<std::int64_t>(std::ceil(p.interval.count())));
  co_return batch_admission{r.admitted, r.wait, interval, r.decided_at};
}

asio::awaitable<admission> async_admit(redis::connection& conn, const limit& lim, unsigned burst) {
  const batch_admission b = co_await async_admit_batch(conn, lim, 1, burst);
  co_return admission{b.admitted == 1, b.retry_after, b.decided_at};
}

}  // namespace celeriac::limiter
