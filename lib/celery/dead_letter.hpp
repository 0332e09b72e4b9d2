#pragma once
// Dead-letter entries: what celeriac keeps of a message it refuses, so an
// operator can see why and replay it by hand.

#include <string>
#include <string_view>

#include "celery/message_codec.hpp"
#include "util/clock.hpp"

namespace celeriac::celery {

// JSON text {"reason": ..., "message": ..., "queue": ..., "time": ISO-8601
// with "+00:00", "raw": <the raw message as a string>}. When raw is not
// valid UTF-8 (JSON strings cannot carry it), "raw" holds it with U+FFFD
// replacements and "raw_base64" the exact bytes.
std::string dead_letter_entry(std::string_view reason, std::string_view message, std::string_view queue,
                              util::wall_time time, std::string_view raw);

// The same for a decode_message refusal: reason = reason_code(error.reason),
// plus "task_id" and "task" after "message" when the error knows them.
std::string dead_letter_entry(const decode_error& error, std::string_view queue, util::wall_time time,
                              std::string_view raw);

}  // namespace celeriac::celery
