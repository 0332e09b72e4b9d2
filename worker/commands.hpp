#pragma once
// `celeriac <command>` entry points. Each parses its own options and
// returns the process exit code; argv[0] is the command name.

namespace celeriac::cli {

int worker_command(int argc, char** argv);
int call_command(int argc, char** argv);
int beat_command(int argc, char** argv);   // scheduler/beat_command.cpp

}  // namespace celeriac::cli
