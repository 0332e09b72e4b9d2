// `celeriac beat` — placeholder until the beat loop lands (issue 4).
#include <iostream>

#include "worker/commands.hpp"

namespace celeriac::cli {

int beat_command(int, char**) {
  std::cerr << "celeriac beat: not built yet\n";
  return 1;
}

}  // namespace celeriac::cli
