#include "worker/process_memory.hpp"

#include <unistd.h>

#include <cstdio>

namespace celeriac::worker {

std::optional<long> resident_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return std::nullopt;
  long size = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (n != 2) return std::nullopt;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace celeriac::worker
