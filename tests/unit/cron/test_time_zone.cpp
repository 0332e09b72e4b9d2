// Time zones come from the system zoneinfo through date/tz; bad names are
// refused with a message.

#include <doctest/doctest.h>

#include "cron/time_zone.hpp"

using celeriac::cron::find_time_zone;

TEST_CASE("IANA zones resolve from the system zoneinfo") {
  for (const char* name : {"UTC", "America/New_York", "Europe/London", "Asia/Kolkata", "Etc/UTC",
                           "America/Argentina/Buenos_Aires", "Etc/GMT+5"}) {
    CAPTURE(name);
    auto z = find_time_zone(name);
    REQUIRE(z.has_value());
    CHECK((*z)->name() == name);
  }
}

TEST_CASE("the same zone is returned every time") {
  CHECK(*find_time_zone("Europe/London") == *find_time_zone("Europe/London"));
}

TEST_CASE("unknown zones are refused, naming the zone and where zones come from") {
  auto z = find_time_zone("Mars/Olympus_Mons");
  REQUIRE_FALSE(z.has_value());
  CHECK(z.error().message ==
        "unknown time zone \"Mars/Olympus_Mons\": not in the system zoneinfo (/usr/share/zoneinfo); use an IANA "
        "name such as \"America/New_York\" or \"UTC\"");
  CHECK_FALSE(find_time_zone("america/new_york").has_value());
}

TEST_CASE("malformed names are refused before any lookup") {
  for (const char* name : {"", "../../etc/passwd", "/etc/localtime", "America/New York", "Europe/", "EST;rm"}) {
    CAPTURE(name);
    auto z = find_time_zone(name);
    REQUIRE_FALSE(z.has_value());
    CHECK(z.error().message.find("is not an IANA zone name") != std::string::npos);
  }
}
