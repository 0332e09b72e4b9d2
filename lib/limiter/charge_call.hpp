#pragma once
// The pure half of a charge: checking what the caller asks for, the keys
// and arguments of the scripts (scripts.hpp), and reading their replies.
// No I/O; limiter.hpp runs it against Redis.

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "limiter/rate.hpp"
#include "resp/value.hpp"

namespace celeriac::limiter {

// `amount` units of one limit, e.g. {&tpm, 800} for an estimated 800
// tokens. The limit must outlive the call it is passed to.
struct charge {
  const limit* lim = nullptr;
  double amount = 0;
};

struct decision {
  bool granted = false;
  // Granted: the charge's id, which async_adjust corrects.
  std::string id;
  // Refused: how long until every limit of the charge could take its
  // amount (if nobody else charges meanwhile), and the key of the limit
  // that needs the longest of that wait.
  std::chrono::milliseconds retry_after{0};
  std::string short_key;
};

// The Redis keys of one limit. They share the limit's key as a hash tag;
// all three expire one window plus a second after the last charge.
struct limit_keys {
  std::string log;      // sorted set: charge id -> Redis time (µs) of the charge
  std::string amounts;  // hash: charge id -> amount
  std::string sum;      // the amounts of the log, summed
};
limit_keys keys_for(const limit& lim);

// Throws std::invalid_argument naming the limit when a charge cannot be
// run: no limit, an empty key, a limit that is not a positive finite
// amount per window of 1 ms or more, an amount that is negative or not
// finite, or the same key twice in one charge (its two amounts would be
// checked apart and recorded as one).
void check_charges(std::span<const charge> charges);
void check_limit(const limit& lim);

// KEYS and ARGV of one script call.
struct script_call {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};
// The charge script's call (see scripts.cpp for its contract).
script_call charge_call(std::span<const charge> charges, std::string_view id);
// The adjust script's call.
script_call adjust_call(const limit& lim, std::string_view id, double delta);

// Reads the charge script's reply, {1} or {0, ms, index of the limit}.
// Throws std::runtime_error quoting a reply of another shape (a script
// error, or a script of another version under the same keys).
decision read_charge_reply(const resp::value& reply, std::span<const charge> charges, std::string id);

}  // namespace celeriac::limiter
