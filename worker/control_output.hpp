#pragma once
// How `celeriac inspect`, `celeriac control` and `celeriac revoke` print
// remote-control replies: byte for byte what `celery inspect` / `celery
// control` print when their output is piped (no colours), so operators and
// scripts read the same text from both tools (celery/bin/control.py
// _say_remote_command_reply, celery/bin/base.py CLIContext.pretty):
//
//   ->  w1@wire: OK
//           pong
//
//   1 node online.
//
// Pure: the commands collect the replies, these shape the text.

#include <span>
#include <string>

#include "celery/pidbox_message.hpp"
#include "worker/remote_commands.hpp"

namespace celeriac::cli {

// One node's reply: "->  <node>: OK|ERROR" and the value indented by 4:
// {"ok": x} prints x indented by 4 more, {"error": x} prints ERROR and x;
// a list prints "* item" lines (strings as they are, other items as
// Python's repr) or "- empty -"; another object prints as Python's
// json.dumps(sort_keys=True, indent=4) followed by an empty line (the
// newline Celery's syntax highlighter adds); a string prints as it is;
// anything else as Python's repr (42, True, None).
std::string format_control_reply(const celery::control_reply& reply);

// What the command prints on stdout for these replies, in arrival order:
// each reply as above, then for inspect "\n<N> node(s) online." (N
// distinct nodes). Ends with a newline.
std::string format_replies(remote_kind kind, std::span<const celery::control_reply> replies);

// The same with --json, as kombu's json.dumps writes it, on one line:
// inspect gives {"<node>": reply, ...} (a node replying twice keeps its
// first place and its last reply, as Celery's flatten_reply does);
// control gives Celery's list [{"<node>": reply}, ...]. Ends with a newline.
std::string format_replies_json(remote_kind kind, std::span<const celery::control_reply> replies);

}  // namespace celeriac::cli
