#pragma once
// What a Celery 5.2 worker answers to `inspect` requests, built from plain
// data (celery/worker/control.py, celery/worker/request.py Request.info,
// kombu's Queue.as_dict, WorkController.stats). Pure: the worker gathers
// the data, this shapes it byte-for-byte as Celery does, and merges the
// parts several worker children contribute into one node's reply.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "celery/task_message.hpp"
#include "json/value.hpp"

namespace celeriac::celery {

// Request.info(): id, name, args, kwargs, type, hostname, time_start
// (unix seconds, null before the start), acknowledged, delivery_info
// {exchange, routing_key, priority, redelivered}, worker_pid (null before
// the start).
struct request_state {
  std::string_view hostname;
  std::optional<double> time_start{};
  bool acknowledged = false;
  std::optional<std::int64_t> worker_pid{};
};
json::value request_info(const task_message& m, const request_state& state);

// One entry of `inspect scheduled`: {eta, priority, request}. Celery's
// priority here is its timer entry's (6 for every eta task), not the
// message's.
json::value scheduled_entry(const task_message& m, const request_state& state);

// One entry of `inspect active_queues`: kombu's Queue.as_dict(recurse=True)
// for a queue bound to the direct exchange of the same name.
json::value active_queue(std::string_view queue);

// One entry of `inspect registered`: "name" or "name [rate_limit=10/s]"
// (Celery lists the exchange, routing_key and rate_limit attributes that
// are set).
std::string registered_entry(std::string_view task, const std::optional<std::string>& rate_limit);

// getrusage() as Celery's stats show it, summed over processes (maxrss:
// the largest).
struct rusage_figures {
  double utime = 0, stime = 0;
  std::int64_t maxrss = 0, ixrss = 0, idrss = 0, isrss = 0, minflt = 0, majflt = 0, nswap = 0, inblock = 0,
               oublock = 0, msgsnd = 0, msgrcv = 0, nsignals = 0, nvcsw = 0, nivcsw = 0;
  rusage_figures& operator+=(const rusage_figures& other);
};
// The counters after utime, stime and maxrss (summed, not peaks), by the
// names Celery's stats give them.
struct rusage_counter {
  const char* name;
  std::int64_t rusage_figures::*field;
};
inline constexpr rusage_counter rusage_counters[] = {
    {"ixrss", &rusage_figures::ixrss},       {"idrss", &rusage_figures::idrss},
    {"isrss", &rusage_figures::isrss},       {"minflt", &rusage_figures::minflt},
    {"majflt", &rusage_figures::majflt},     {"nswap", &rusage_figures::nswap},
    {"inblock", &rusage_figures::inblock},   {"oublock", &rusage_figures::oublock},
    {"msgsnd", &rusage_figures::msgsnd},     {"msgrcv", &rusage_figures::msgrcv},
    {"nsignals", &rusage_figures::nsignals}, {"nvcsw", &rusage_figures::nvcsw},
    {"nivcsw", &rusage_figures::nivcsw}};
json::value rusage_json(const rusage_figures& r);
rusage_figures rusage_from_json(const json::value& v);  // zeros for what is missing

// Everything `inspect stats` reports for a node.
struct node_stats {
  std::map<std::string, std::uint64_t> total;  // tasks started, by name
  std::int64_t pid = 0;                        // the node's main process
  std::int64_t clock = 0;
  std::int64_t uptime_seconds = 0;
  int max_concurrency = 0;
  std::vector<std::int64_t> processes;         // children's pids
  std::vector<std::uint64_t> tasks_per_process;  // same order as processes
  std::optional<long> max_tasks_per_child{};
  std::pair<double, double> timeouts{0, 0};     // soft, hard (0: none)
  int busy = 0;                                  // children running a task
  // broker
  std::string broker_host;
  int broker_port = 0;
  int broker_db = 0;
  std::optional<std::string> broker_user{};
  std::int64_t visibility_timeout = 3600;
  std::int64_t prefetch_count = 0;
  rusage_figures rusage;
};
json::value stats_reply(const node_stats& s);

// Merging the children's parts of one reply.
json::array concat_arrays(const std::vector<json::value>& parts);  // non-arrays skipped
json::object merge_objects(const std::vector<json::value>& parts);  // later keys win; non-objects skipped

}  // namespace celeriac::celery
