#include "limiter/charge_call.hpp"

#include <cmath>
#include <stdexcept>
#include <unordered_set>

#include <fmt/format.h>

namespace celeriac::limiter {
namespace {

// Shortest text that reads back as the same double (Lua's tonumber reads it).
std::string number(double v) { return fmt::format("{}", v); }

[[noreturn]] void bad_reply(const resp::value& reply, std::string_view what) {
  throw std::runtime_error(fmt::format("the rate limit script answered {} ({}); is another version of celeriac "
                                       "using the same keys?",
                                       reply.to_debug_string(), what));
}

}  // namespace

limit_keys keys_for(const limit& lim) {
  const std::string tag = "{" + lim.key + "}";
  return {tag + ":log", tag + ":amounts", tag + ":sum"};
}

void check_limit(const limit& lim) {
  if (lim.key.empty()) throw std::invalid_argument("a rate limit has an empty key: name it, e.g. celeriac:limit:llm:openai:rpm");
  if (!std::isfinite(lim.amount_per_window) || lim.amount_per_window <= 0)
    throw std::invalid_argument(fmt::format("rate limit {} allows {} per window: give it a positive finite amount "
                                            "(no limit at all is no charge)",
                                            lim.key, lim.amount_per_window));
  if (lim.window.count() < 1)
    throw std::invalid_argument(fmt::format("rate limit {} has a window of {} ms: give it 1 ms or more", lim.key,
                                            lim.window.count()));
}

void check_charges(std::span<const charge> charges) {
  std::unordered_set<std::string_view> seen;
  for (const charge& c : charges) {
    if (c.lim == nullptr) throw std::invalid_argument("a rate limit charge points to no limit");
    check_limit(*c.lim);
    if (!std::isfinite(c.amount) || c.amount < 0)
      throw std::invalid_argument(fmt::format("a charge of {} to rate limit {}: charge a finite amount of 0 or more "
                                              "(correct it afterwards with async_adjust)",
                                              c.amount, c.lim->key));
    if (!seen.insert(c.lim->key).second)
      throw std::invalid_argument(fmt::format("rate limit {} appears twice in one charge: charge it once, with the "
                                              "amounts added",
                                              c.lim->key));
  }
}

script_call charge_call(std::span<const charge> charges, std::string_view id) {
  script_call call;
  call.keys.reserve(3 * charges.size());
  call.args.reserve(1 + 3 * charges.size());
  call.args.emplace_back(id);
  for (const charge& c : charges) {
    limit_keys k = keys_for(*c.lim);
    call.keys.push_back(std::move(k.log));
    call.keys.push_back(std::move(k.amounts));
    call.keys.push_back(std::move(k.sum));
    call.args.push_back(number(c.lim->amount_per_window));
    call.args.push_back(std::to_string(c.lim->window.count()));
    call.args.push_back(number(c.amount));
  }
  return call;
}

script_call adjust_call(const limit& lim, std::string_view id, double delta) {
  limit_keys k = keys_for(lim);
  return {{std::move(k.log), std::move(k.amounts), std::move(k.sum)},
          {std::string(id), number(delta), std::to_string(lim.window.count())}};
}

decision read_charge_reply(const resp::value& reply, std::span<const charge> charges, std::string id) {
  if (reply.is_error())
    throw std::runtime_error(fmt::format("the rate limit script failed in Redis: {}", reply.error_message()));
  const auto items = reply.elements();
  if (!items || items->empty()) bad_reply(reply, "not an array");
  const auto granted = (*items)[0].as_integer();
  if (!granted || (*granted != 0 && *granted != 1)) bad_reply(reply, "no 0 or 1 first");
  decision d;
  if (*granted == 1) {
    d.granted = true;
    d.id = std::move(id);
    return d;
  }
  if (items->size() != 3) bad_reply(reply, "a refusal without wait and limit");
  const auto wait = (*items)[1].as_integer();
  const auto index = (*items)[2].as_integer();
  if (!wait || *wait < 1) bad_reply(reply, "a refusal without a positive wait");
  if (!index || *index < 1 || static_cast<std::size_t>(*index) > charges.size())
    bad_reply(reply, "a refusal naming no limit of the charge");
  d.retry_after = std::chrono::milliseconds(*wait);
  d.short_key = charges[static_cast<std::size_t>(*index - 1)].lim->key;
  return d;
}

}  // namespace celeriac::limiter
