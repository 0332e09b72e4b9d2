#pragma once
// This process's resident set size, for --max-memory-per-child.

#include <optional>

namespace celeriac::worker {

// Resident memory in KiB (/proc/self/statm), or nullopt when unreadable.
std::optional<long> resident_kib();

}  // namespace celeriac::worker
