#pragma once
// The option parsing every `celeriac <command>` does the same way: parse,
// report a usage error naming the command, answer --help.

#include <optional>
#include <string_view>

#include <boost/program_options.hpp>

namespace celeriac::cli {

// Parses argv (argv[0] is the command's name) into vm. Returns nullopt when
// the command should go on, or the exit code to return at once: 0 after
// printing opts for --help, exit_usage after telling the user on stderr
// what was wrong with the command line.
std::optional<int> parse_options(std::string_view command, int argc, char** argv,
                                 const boost::program_options::options_description& opts,
                                 boost::program_options::variables_map& vm,
                                 const boost::program_options::positional_options_description* positional = nullptr);

}  // namespace celeriac::cli
