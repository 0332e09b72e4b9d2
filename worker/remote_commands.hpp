#pragma once
// The remote-control commands `celery inspect` and `celery control` offer
// (Celery 5.2's visible Panel.meta entries, celery/worker/control.py), and
// how their command-line words become the request's arguments
// (celery/bin/control.py _compile_arguments). Pure: `celeriac inspect` and
// `celeriac control` send exactly what Celery's CLI sends for the same
// words, so every worker, celeriac's or Celery's, reads them the same way.

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "json/value.hpp"

namespace celeriac::cli {

enum class remote_kind { inspect, control };

// How a positional word is converted, as Panel.meta's argument types do.
enum class word_type {
  text,      // str
  integer,   // int: decimal, optional sign
  number,    // float: always sent as a JSON float (5 -> 5.0)
  boolean,   // celery.utils.serialization.strtobool: true/false/yes/no/on/off/1/0
};

struct remote_argument {
  std::string_view name;
  word_type type;
};

struct remote_command {
  std::string_view name;       // the method sent, e.g. "rate_limit"
  remote_kind kind;
  std::string_view signature;  // Celery's, for help and usage errors
  std::string_view help;       // Celery's one-line description
  std::vector<remote_argument> arguments{};  // the leading words, in order
  // Name of the list the remaining words go to ("ids", "task_id"...);
  // empty when the command takes no such list.
  std::string_view variadic{};
};

// Every visible command of one kind, in Celery's registration order.
std::span<const remote_command> remote_commands(remote_kind kind);

// The command `name` of `kind`; nullptr when Celery's CLI has no such one.
const remote_command* find_remote_command(remote_kind kind, std::string_view name);

struct argument_error {
  std::string message;  // which word, and why it does not fit
};
std::ostream& operator<<(std::ostream& os, const argument_error& e);

// The request's arguments for `words` as Celery's CLI builds them: the
// leading words converted to the declared arguments (fewer words send
// fewer arguments), the rest as a list under `variadic` (always sent,
// even empty). Error, saying which word and why, when a word does not
// convert or there are more words than the command takes.
boost::system::result<json::object, argument_error> compile_arguments(const remote_command& command,
                                                                       std::span<const std::string> words);

}  // namespace celeriac::cli
