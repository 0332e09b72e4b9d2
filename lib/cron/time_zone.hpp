#pragma once
// IANA time-zone lookup for schedules.
//
// Zones come from the system zoneinfo (/usr/share/zoneinfo, Debian's tzdata)
// through Howard Hinnant's date/tz, which Debian builds with USE_OS_TZDB=1:
// it reads the compiled TZif files and has no remote API, so nothing is ever
// downloaded (time_zone.cpp asserts this at compile time).
//
// Known limit of that reader: it uses the explicit transitions in the TZif
// files and ignores their POSIX-TZ footer, so after the last listed
// transition (2037 for Debian's "fat" files) a zone keeps the offset it had
// then, i.e. no more DST changes. Fire times beyond 2037 in DST zones are
// off by the DST offset half of the year.

#include <string_view>

#include <date/tz.h>

#include "cron/error.hpp"

namespace celeriac::cron {

// Returns the zone named `name` ("America/New_York", "Europe/London",
// "UTC"). The pointer stays valid for the life of the process. Errors: the
// name is malformed or not in the system zoneinfo; the message names it and
// says where zones come from.
result<const date::time_zone*> find_time_zone(std::string_view name);

}  // namespace celeriac::cron
