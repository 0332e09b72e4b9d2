#pragma once
// Random (version 4) UUIDs: task ids, delivery tags, reply oids.

#include <string>

namespace celeriac::util {

// Returns a new random UUID in canonical lower-case 8-4-4-4-12 form, as
// Python's str(uuid.uuid4()) prints it. Seeded per thread from the OS;
// safe to call after fork (the child reseeds).
std::string uuid4();

// True when s has the canonical 8-4-4-4-12 hex form.
bool is_uuid(std::string_view s) noexcept;

}  // namespace celeriac::util
