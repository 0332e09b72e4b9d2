#pragma once
// How `celeriac revoke` (and issue 9's inspect/control) print remote-control
// replies: the layout of `celery control` / `celery inspect` without colours
// (celery/bin/control.py _say_remote_command_reply, celery/bin/base.py
// pretty), so operators read the same lines from both tools:
//
//   ->  w1@wire: OK
//           tasks c89951be-... flagged as revoked

#include <string>

#include "celery/pidbox_message.hpp"

namespace celeriac::cli {

// One node's reply: "->  <node>: OK|ERROR" and the value indented by 8.
// {"ok": x} prints x, {"error": x} prints ERROR and x, a list prints
// "* item" lines ("- empty -" when empty), a string prints as is, other
// values as JSON.
std::string format_control_reply(const celery::control_reply& reply);

}  // namespace celeriac::cli
