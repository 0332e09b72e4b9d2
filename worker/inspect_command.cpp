// `celeriac inspect CMD [ARGS]`: Celery's `celery inspect` without Python —
// asks the workers (ping, active, stats, query_task ID...) and prints
// their replies as it does. Shared machinery in remote_cli.cpp.

#include "cli/commands.hpp"
#include "worker/remote_cli.hpp"

namespace celeriac::cli {

int inspect_command(int argc, char** argv) { return run_remote_cli(remote_kind::inspect, argc, argv); }

}  // namespace celeriac::cli
