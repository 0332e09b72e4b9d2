#include "cron/time_zone.hpp"

#include <exception>

#include <fmt/format.h>

// A date/tz built with a remote API would fetch the IANA database over the
// network on first use; the Debian package must not, and neither may we.
static_assert(USE_OS_TZDB == 1, "celeriac reads the system zoneinfo; build date/tz with USE_OS_TZDB=1");
static_assert(HAS_REMOTE_API == 0, "date/tz must not be able to download the time-zone database");

namespace celeriac::cron {

namespace {

// IANA names are ASCII letters, digits and "/_+-"; anything else (spaces,
// "..", a leading '/') cannot be a zone and is refused before the lookup.
bool plausible_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.back() == '/') return false;
  if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos) return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
              c == '_' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

result<const date::time_zone*> find_time_zone(std::string_view name) {
  if (!plausible_zone_name(name)) {
    return error{fmt::format("time zone \"{}\" is not an IANA zone name; write one such as \"America/New_York\" "
                             "or \"UTC\"",
                             name)};
  }
  // date::locate_zone throws when the name is unknown (or the zoneinfo
  // folder is unreadable); this is the edge where that becomes a value.
  try {
    return date::locate_zone(name);
  } catch (const std::exception& e) {
    std::string_view why = e.what();
    if (why.find("not found") == std::string_view::npos) {
      return error{fmt::format("cannot look up time zone \"{}\": reading the system zoneinfo (/usr/share/zoneinfo) "
                               "failed: {}; is the tzdata package installed?",
                               name, why)};
    }
    return error{fmt::format("unknown time zone \"{}\": not in the system zoneinfo (/usr/share/zoneinfo); use an "
                             "IANA name such as \"America/New_York\" or \"UTC\"",
                             name)};
  }
}

}  // namespace celeriac::cron
