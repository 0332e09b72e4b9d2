#pragma once
// `celeriac <command>` entry points. Each parses its own options and
// returns the process exit code; argv[0] is the command name.

namespace celeriac::cli {

int worker_command(int argc, char** argv);
int call_command(int argc, char** argv);
int revoke_command(int argc, char** argv);   // worker/revoke_command.cpp
int inspect_command(int argc, char** argv);  // worker/inspect_command.cpp
int control_command(int argc, char** argv);  // worker/control_command.cpp
int migrate_command(int argc, char** argv);  // worker/migrate_command.cpp
int status_command(int argc, char** argv);   // worker/status_command.cpp
int jobs_command(int argc, char** argv);     // worker/jobs_command.cpp
int beat_command(int argc, char** argv);   // scheduler/beat_command.cpp
int dead_command(int argc, char** argv);     // worker/dead_command.cpp
int purge_command(int argc, char** argv);    // worker/purge_command.cpp
int queues_command(int argc, char** argv);   // worker/queues_command.cpp
int rate_limit_command(int argc, char** argv);  // worker/rate_limit_command.cpp

}  // namespace celeriac::cli
