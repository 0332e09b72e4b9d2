#include "limiter/pacing.hpp"

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace celeriac::limiter {
namespace {

[[noreturn]] void bad_reply(const resp::value& reply, const limit& lim, std::string_view what) {
  throw std::runtime_error(fmt::format("the admission script for rate limit {} answered {} ({}); is another "
                                       "version of celeriac using the same key?",
                                       lim.key, reply.to_debug_string(), what));
}

}  // namespace

pacing pacing_for(const limit& lim, unsigned burst) {
  check_limit(lim);
  const double slots = lim.amount_per_window - burst + 1;
  if (burst < 1 || slots <= 0)
    throw std::invalid_argument(fmt::format("rate limit {} allows {} per window, so a burst of {} is not possible: "
                                            "give a burst from 1 to the amount",
                                            lim.key, lim.amount_per_window, burst));
  const fractional_micros interval = fractional_micros(lim.window) / slots;
  return {interval, interval * (burst - 1.0)};
}

script_call admit_call(const limit& lim, const pacing& p, std::size_t runs) {
  if (runs < 1) throw std::invalid_argument(fmt::format("admitting 0 runs under rate limit {}: ask for 1 or more", lim.key));
  // %.17g: the shortest text is not needed, the exact double is.
  return {{lim.key},
          {fmt::format("{:.17g}", p.interval.count()), fmt::format("{:.17g}", p.tolerance.count()),
           std::to_string(runs)}};
}

admit_reply read_admit_reply(const resp::value& reply, const limit& lim, std::size_t runs) {
  if (reply.is_error())
    throw std::runtime_error(
        fmt::format("admitting runs under rate limit {} failed in Redis: {}", lim.key, reply.error_message()));
  const auto items = reply.elements();
  if (!items || items->size() != 3) bad_reply(reply, lim, "not an array of three");
  const auto admitted = (*items)[0].as_integer();
  const auto wait = (*items)[1].as_integer();
  const auto at = (*items)[2].as_integer();
  if (!admitted || *admitted < 0 || static_cast<std::size_t>(*admitted) > runs)
    bad_reply(reply, lim, "not between 0 and the runs asked for");
  if (!wait || *wait < 0) bad_reply(reply, lim, "no wait of 0 or more");
  if (*admitted == 0 && *wait == 0) bad_reply(reply, lim, "a refusal without a wait");
  if (!at || *at <= 0) bad_reply(reply, lim, "no Redis time");
  return {static_cast<std::size_t>(*admitted), std::chrono::microseconds(*wait), std::chrono::microseconds(*at)};
}

}  // namespace celeriac::limiter
