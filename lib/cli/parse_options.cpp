#include "cli/parse_options.hpp"

#include <iostream>

#include "cli/cli_support.hpp"

namespace celeriac::cli {
namespace po = boost::program_options;

std::optional<int> parse_options(std::string_view command, int argc, char** argv, const po::options_description& opts,
                                 po::variables_map& vm, const po::positional_options_description* positional) {
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(opts);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "celeriac " << command << ": " << e.what() << "\nTry 'celeriac " << command << " --help'.\n";
    return exit_usage;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  return std::nullopt;
}

}  // namespace celeriac::cli
