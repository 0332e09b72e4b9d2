#pragma once
// The few ways the operator commands talk to Redis, over a blocking
// redis::sync_client: pipelines whose error replies become exceptions,
// Lua scripts by SHA1 (loaded when Redis does not know them), SCAN.
//
// Exceptions: boost::system::system_error when Redis cannot be reached or
// the connection fails (the caller reports "unavailable"); redis_failure
// for an error reply (a key of the wrong type, a script error).

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "redis/script.hpp"
#include "redis/sync_client.hpp"

namespace celeriac::admin {

struct redis_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs `req`; throws redis_failure naming `what` ("reading celeriac.dead")
// if any reply is an error.
std::vector<resp::value> exec_checked(redis::sync_client& client, const redis::request& req, std::string_view what);

struct script_call {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

// Runs `s` once for each call, in one pipeline, and returns the replies in
// order. A call Redis answered NOSCRIPT (the script cache was flushed) is
// run again after SCRIPT LOAD.
std::vector<resp::value> eval_each(redis::sync_client& client, const redis::script& s,
                                   std::span<const script_call> calls, std::string_view what);

resp::value eval(redis::sync_client& client, const redis::script& s, script_call call, std::string_view what);

// Every key matching a SCAN pattern ("celeriac.delayed.*"), sorted, each once.
std::vector<std::string> scan_keys(redis::sync_client& client, std::string_view pattern);

// A reply's integer or string; redis_failure naming `what` for another kind.
std::int64_t integer_reply(const resp::value& v, std::string_view what);
std::string string_reply(const resp::value& v, std::string_view what);

}  // namespace celeriac::admin
