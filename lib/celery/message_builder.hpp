#pragma once
// Building new task messages the way Celery's app.send_task fills them
// (celery/app/base.py send_task → amqp.as_task_v2 → kombu Producer.publish).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "celery/py_repr.hpp"
#include "celery/signature.hpp"
#include "celery/task_message.hpp"
#include "json/value.hpp"
#include "util/clock.hpp"

namespace celeriac::celery {

// apply_async / send_task options. Everything is optional; defaults are
// Celery's. Durations are in seconds.
struct message_options {
  std::optional<std::string> task_id;  // default: new uuid4
  std::string queue = std::string(default_queue);  // routing key on the anonymous exchange

  std::optional<double> countdown;      // eta = now + countdown (wins over eta, like Celery)
  std::optional<util::wall_time> eta;
  std::optional<double> expires_in;     // expires = now + expires_in
  std::optional<util::wall_time> expires_at;  // used when expires_in is not set

  std::int64_t priority = 0;  // kombu clamps to 0..9; Redis serves LOWER numbers first
  std::int64_t retries = 0;
  std::optional<std::string> parent_id;
  std::optional<std::string> root_id;  // default: the task id
  std::optional<std::string> group;
  std::optional<std::int64_t> group_index;
  std::optional<std::string> shadow;
  bool ignore_result = false;
  std::optional<double> time_limit;       // hard, seconds
  std::optional<double> soft_time_limit;  // seconds

  std::vector<signature> link;        // embed.callbacks
  std::vector<signature> link_error;  // embed.errbacks
  // Steps to run after this task, in EXECUTION order (the next one first).
  // Stored reversed in embed.chain as Celery does. Steps without
  // options.task_id get a new uuid4 (and reply_to), as Celery's chain
  // freezes them, so their results can be looked up.
  std::vector<signature> chain;
  std::optional<signature> chord;  // chord body (for chord header tasks)

  std::optional<std::string> reply_to;  // default: this process's oid (process_oid())
  std::optional<std::string> origin;    // default: default_origin()
  json::object headers;     // extra headers, appended after Celery's own
  json::object properties;  // extra properties (kombu puts them after reply_to)

  std::optional<std::string> argsrepr;    // default: saferepr(args, 1024, args_style)
  std::optional<std::string> kwargsrepr;  // default: saferepr(kwargs, 1024)
  sequence_style args_style = sequence_style::list;

  std::optional<util::wall_time> now;  // clock for countdown/expires; default wall_now()
};

// "gen<pid>@<hostname>": Celery's anon_nodename(), the default origin.
std::string default_origin();

// A uuid4 fixed for this process: the reply_to Celery clients send (their
// oid). Only Celery's RPC result backend reads it.
const std::string& process_oid();

// A complete message for task `name`, as send_task would publish it: id
// (also correlation_id), root_id = id unless given, origin, argsrepr and
// kwargsrepr, eta/expires in ISO form with "+00:00", properties.expiration
// in ms when expires is set (clamped at 0 like Celery), delivery_info
// {"exchange": "", "routing_key": queue}, delivery_mode 2, body_encoding
// base64, a new uuid4 delivery_tag, timelimit [hard, soft] (integral
// seconds written as ints). Never fails.
task_message make_task_message(std::string name, json::array args, json::object kwargs,
                               message_options options = {});

}  // namespace celeriac::celery
