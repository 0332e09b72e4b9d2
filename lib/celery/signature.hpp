#pragma once
// Celery signatures (celery.canvas.Signature) as they travel in embed
// callbacks/errbacks/chain/chord and in beat or client code:
//   {"task": name, "args": [...], "kwargs": {...}, "options": {...},
//    "subtask_type": null, "immutable": false}

#include <iosfwd>
#include <string>

#include <boost/system/result.hpp>

#include "json/value.hpp"

namespace celeriac::celery {

struct signature {
  std::string task;
  json::array args;
  json::object kwargs;
  // apply_async options: task_id, reply_to, queue, priority, countdown,
  // link... (see canvas.hpp for which ones celeriac applies).
  json::object options;
  // null for a plain task; "group", "chain", "chord"... for canvas
  // primitives, which celeriac carries but does not execute.
  json::value subtask_type;
  bool immutable = false;  // true: the parent's result is not prepended to args
  json::object extra;      // unknown keys (e.g. "chord_size"), kept in order

  // True for a plain task signature (subtask_type null).
  bool is_plain_task() const noexcept { return subtask_type.is_null(); }
};

struct signature_error {
  std::string message;
};
std::ostream& operator<<(std::ostream& os, const signature_error& e);

// The signature's JSON: for logs and test diagnostics.
std::ostream& operator<<(std::ostream& os, const signature& s);

// Reads a signature dict. Requires an object with a string "task"; args
// (list), kwargs, options (objects) may be absent or null; immutable
// must be a bool when present. Unknown keys are kept in `extra`.
boost::system::result<signature, signature_error> decode_signature(const json::value& v);

// The signature as Celery serialises it: task, args, kwargs, options,
// subtask_type, immutable, then the extra keys.
json::value to_json(const signature& s);

}  // namespace celeriac::celery
