#pragma once
// Python-style text for JSON values: what Celery shows in argsrepr,
// kwargsrepr, events and logs.
//
// Two flavours, because Celery itself uses two:
//   py_repr   — the builtin repr(): for log lines and diagnostics.
//   saferepr  — celery.utils.saferepr.saferepr(), which Celery uses for the
//               argsrepr/kwargsrepr headers (and task-received events). It
//               differs from repr(): strings always get single quotes with
//               only ' escaped (newlines stay raw), nesting deeper than 3
//               levels prints as [...], and output is cut near maxlen.

#include <cstddef>
#include <string>

#include "json/value.hpp"

namespace celeriac::celery {

// repr() of the Python object json.loads would build from v: None, True,
// False, ints, floats as repr (nan, inf), strings quoted as Python does
// (single quotes unless the text has a ' and no "; \\ \n \r \t escaped; other
// non-printable characters as \xNN, \uNNNN or \UNNNNNNNN; printable
// non-ASCII kept), [1, 2], {'k': 1}. Unicode printability follows Python for
// control, separator, format, surrogate and private-use characters; code
// points unassigned in Unicode are kept as-is where Python would escape them.
std::string py_repr(const json::value& v);

// How the outermost array prints: Celery's own clients pass args as a
// tuple ("(2, 3)", "(4,)"); beat and send_task with a list give "[2, 2]".
enum class sequence_style { list, tuple };

// Celery's argsrepr_maxsize / kwargsrepr_maxsize.
inline constexpr std::size_t repr_maxsize = 1024;

// celery.utils.saferepr.saferepr(obj, maxlen) for the Python object built
// from v, reproducing its truncation (", ..." once maxlen characters are
// used up, strings cut at a word boundary plus "...") and maxlevels=3.
// Lengths are counted in code points, as Python does.
std::string saferepr(const json::value& v, std::size_t maxlen = repr_maxsize,
                     sequence_style outer = sequence_style::list);

}  // namespace celeriac::celery
