// `celeriac control CMD [ARGS]`: Celery's `celery control` without Python —
// tells the workers to act (rate_limit, time_limit, add_consumer,
// pool_grow, shutdown...) and prints their replies as it does. Shared
// machinery in remote_cli.cpp. `celeriac revoke` is the richer revoke: it
// also keeps the ids in Redis and can terminate.

#include "cli/commands.hpp"
#include "worker/remote_cli.hpp"

namespace celeriac::cli {

int control_command(int argc, char** argv) { return run_remote_cli(remote_kind::control, argc, argv); }

}  // namespace celeriac::cli
