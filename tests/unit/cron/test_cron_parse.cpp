// Parsing cron expressions: every field form cron(8) accepts, and a clear
// message for each thing it does not.

#include <doctest/doctest.h>

#include <string>

#include "cron/cron_expression.hpp"
#include "fire_times.hpp"

using celeriac::cron::cron_expression;
using namespace celeriac::cron::testing;

namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<unsigned> minutes_of(const cron_expression& e) {
  std::vector<unsigned> out;
  for (unsigned m = 0; m < 60; ++m)
    if (e.has_minute(m)) out.push_back(m);
  return out;
}

std::vector<unsigned> hours_of(const cron_expression& e) {
  std::vector<unsigned> out;
  for (unsigned h = 0; h < 24; ++h)
    if (e.has_hour(h)) out.push_back(h);
  return out;
}

std::vector<unsigned> days_of(const cron_expression& e) {
  std::vector<unsigned> out;
  for (unsigned d = 1; d <= 31; ++d)
    if (e.has_day_of_month(d)) out.push_back(d);
  return out;
}

std::vector<unsigned> months_of(const cron_expression& e) {
  std::vector<unsigned> out;
  for (unsigned m = 1; m <= 12; ++m)
    if (e.has_month(m)) out.push_back(m);
  return out;
}

std::vector<unsigned> weekdays_of(const cron_expression& e) {
  std::vector<unsigned> out;
  for (unsigned w = 0; w < 7; ++w)
    if (e.has_weekday(w)) out.push_back(w);
  return out;
}

using v = std::vector<unsigned>;

}  // namespace

TEST_CASE("star selects every value of each field") {
  auto e = parse_ok("* * * * *");
  CHECK(minutes_of(e).size() == 60);
  CHECK(hours_of(e).size() == 24);
  CHECK(days_of(e).size() == 31);
  CHECK(months_of(e).size() == 12);
  CHECK(weekdays_of(e).size() == 7);
  CHECK(e.follows_real_time());
  CHECK_FALSE(e.day_fields_ored());
  CHECK(e.text() == "* * * * *");
}

TEST_CASE("single values, ranges, steps and lists") {
  CHECK(minutes_of(parse_ok("5 * * * *")) == v{5});
  CHECK(minutes_of(parse_ok("0 * * * *")) == v{0});
  CHECK(minutes_of(parse_ok("59 * * * *")) == v{59});
  CHECK(hours_of(parse_ok("0 9-12 * * *")) == v{9, 10, 11, 12});
  CHECK(minutes_of(parse_ok("*/15 * * * *")) == v{0, 15, 30, 45});
  CHECK(minutes_of(parse_ok("*/25 * * * *")) == v{0, 25, 50});
  CHECK(days_of(parse_ok("0 0 1-10/3 * *")) == v{1, 4, 7, 10});
  CHECK(hours_of(parse_ok("0 */5 * * *")) == v{0, 5, 10, 15, 20});
  CHECK(days_of(parse_ok("0 0 */10 * *")) == v{1, 11, 21, 31});
  CHECK(minutes_of(parse_ok("1,2,30-32,*/20 * * * *")) == v{0, 1, 2, 20, 30, 31, 32, 40});
  CHECK(hours_of(parse_ok("0 5-5 * * *")) == v{5});
  CHECK(minutes_of(parse_ok("*/1 * * * *")).size() == 60);
  CHECK(minutes_of(parse_ok("*/60 * * * *")) == v{0});
  CHECK(months_of(parse_ok("0 0 1 1-12/6 *")) == v{1, 7});
}

TEST_CASE("month names, any case, alone and in ranges and lists") {
  CHECK(months_of(parse_ok("0 0 1 jan *")) == v{1});
  CHECK(months_of(parse_ok("0 0 1 DEC *")) == v{12});
  CHECK(months_of(parse_ok("0 0 1 Mar-May *")) == v{3, 4, 5});
  CHECK(months_of(parse_ok("0 0 1 jan,apr,jul,oct *")) == v{1, 4, 7, 10});
  CHECK(months_of(parse_ok("0 0 1 jan-dec/3 *")) == v{1, 4, 7, 10});
  CHECK(months_of(parse_ok("0 0 1 feb-4 *")) == v{2, 3, 4});
  const char* names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (unsigned m = 1; m <= 12; ++m) {
    CAPTURE(names[m - 1]);
    CHECK(months_of(parse_ok(std::string("0 0 1 ") + names[m - 1] + " *")) == v{m});
  }
}

TEST_CASE("weekday names, and both 0 and 7 are Sunday") {
  const char* names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  for (unsigned w = 0; w < 7; ++w) {
    CAPTURE(names[w]);
    CHECK(weekdays_of(parse_ok(std::string("0 0 * * ") + names[w])) == v{w});
  }
  CHECK(weekdays_of(parse_ok("0 0 * * 0")) == v{0});
  CHECK(weekdays_of(parse_ok("0 0 * * 7")) == v{0});
  CHECK(weekdays_of(parse_ok("0 0 * * 5-7")) == v{0, 5, 6});
  CHECK(weekdays_of(parse_ok("0 0 * * Mon-Fri")) == v{1, 2, 3, 4, 5});
  CHECK(weekdays_of(parse_ok("0 0 * * SAT,sun")) == v{0, 6});
  CHECK(weekdays_of(parse_ok("0 0 * * */2")) == v{0, 2, 4, 6});
  CHECK(weekdays_of(parse_ok("0 0 * * *")).size() == 7);
}

TEST_CASE("macros expand to their five-field forms") {
  CHECK(parse_ok("@yearly") == parse_ok("0 0 1 1 *"));
  CHECK(parse_ok("@annually") == parse_ok("0 0 1 1 *"));
  CHECK(parse_ok("@monthly") == parse_ok("0 0 1 * *"));
  CHECK(parse_ok("@weekly") == parse_ok("0 0 * * 0"));
  CHECK(parse_ok("@daily") == parse_ok("0 0 * * *"));
  CHECK(parse_ok("@midnight") == parse_ok("0 0 * * *"));
  CHECK(parse_ok("@hourly") == parse_ok("0 * * * *"));
  CHECK(parse_ok("@daily").text() == "@daily");
  // As in cron(8): @hourly is a "wildcard" job (real time), @daily is not.
  CHECK(parse_ok("@hourly").follows_real_time());
  CHECK_FALSE(parse_ok("@daily").follows_real_time());
  CHECK(parse_ok("  @daily\t").text() == "@daily");
}

TEST_CASE("@reboot and unknown macros are refused with a message") {
  CHECK(contains(parse_error("@reboot"), "@reboot is not supported"));
  CHECK(contains(parse_error("@fortnightly"), "unknown macro \"@fortnightly\""));
  CHECK(contains(parse_error("@DAILY"), "unknown macro"));
  CHECK(contains(parse_error("@daily 5"), "must be the whole expression"));
}

TEST_CASE("whitespace: tabs and repeated blanks separate fields; ends are trimmed") {
  CHECK(parse_ok("  0\t12   *  *\t* ") == parse_ok("0 12 * * *"));
  CHECK(parse_ok("0 12 * * *").text() == "0 12 * * *");
}

TEST_CASE("wildcard classification follows cron(8): minute or hour starting with '*'") {
  CHECK(parse_ok("*/5 * * * *").follows_real_time());
  CHECK(parse_ok("0 * * * *").follows_real_time());
  CHECK(parse_ok("15 */2 * * *").follows_real_time());
  CHECK(parse_ok("* 2 * * *").follows_real_time());
  CHECK_FALSE(parse_ok("30 2 * * *").follows_real_time());
  CHECK_FALSE(parse_ok("0,30 9-17 * * *").follows_real_time());
  CHECK_FALSE(parse_ok("0-59 0-23 * * *").follows_real_time());
}

TEST_CASE("day fields are ORed only when both are restricted (neither starts with '*')") {
  CHECK(parse_ok("0 0 1 * mon").day_fields_ored());
  CHECK(parse_ok("0 0 1-31 * 0-6").day_fields_ored());
  CHECK_FALSE(parse_ok("0 0 * * mon").day_fields_ored());
  CHECK_FALSE(parse_ok("0 0 1 * *").day_fields_ored());
  CHECK_FALSE(parse_ok("0 0 */2 * mon").day_fields_ored());
  CHECK_FALSE(parse_ok("0 0 1 * */2").day_fields_ored());
}

TEST_CASE("wrong number of fields") {
  CHECK(parse_error("") == "empty cron expression; expected 5 fields (minute hour day-of-month month day-of-week) "
                          "or a macro such as @daily");
  CHECK(parse_error("   ") == parse_error(""));
  CHECK(parse_error("* * * *") == "expected 5 fields (minute hour day-of-month month day-of-week), got 4");
  CHECK(contains(parse_error("0 * * * * *"), "got 6; seconds and year fields are not part of cron syntax"));
  CHECK(contains(parse_error("*"), "got 1"));
}

TEST_CASE("out-of-range values name the field and its range") {
  CHECK(parse_error("60 * * * *") == "minute field \"60\": 60 is out of range 0-59");
  CHECK(parse_error("* 24 * * *") == "hour field \"24\": 24 is out of range 0-23");
  CHECK(parse_error("* * 0 * *") == "day-of-month field \"0\": 0 is out of range 1-31");
  CHECK(parse_error("* * 32 * *") == "day-of-month field \"32\": 32 is out of range 1-31");
  CHECK(parse_error("* * * 13 *") == "month field \"13\": 13 is out of range 1-12 or jan-dec");
  CHECK(parse_error("* * * 0 *") == "month field \"0\": 0 is out of range 1-12 or jan-dec");
  CHECK(parse_error("* * * * 8") ==
        "day-of-week field \"8\": 8 is out of range 0-7 (0 and 7 are Sunday) or sun-sat");
  CHECK(parse_error("1,99 * * * *") == "minute field \"1,99\": 99 is out of range 0-59");
  CHECK(contains(parse_error("9999999999 * * * *"), "minute field \"9999999999\""));
}

TEST_CASE("malformed items are refused with the reason") {
  CHECK(parse_error("a * * * *") == "minute field \"a\": \"a\" is not a number; expected 0-59");
  CHECK(parse_error("* * * * fry") ==
        "day-of-week field \"fry\": unknown name \"fry\"; expected 0-7 (0 and 7 are Sunday) or sun-sat");
  CHECK(contains(parse_error("* * * janu *"), "month field \"janu\": unknown name \"janu\""));
  CHECK(contains(parse_error("* * 1 * monday"), "unknown name \"monday\""));
  CHECK(contains(parse_error("* jan * * *"), "hour field \"jan\": \"jan\" is not a number"));
  CHECK(contains(parse_error("* * * * mon-"), "day-of-week field \"mon-\": a value is missing"));
  CHECK(contains(parse_error("-5 * * * *"), "minute field \"-5\": a value is missing"));
  CHECK(contains(parse_error("1,,2 * * * *"), "minute field \"1,,2\": the list has an empty item"));
  CHECK(contains(parse_error("1, * * * *"), "the list has an empty item"));
  CHECK(contains(parse_error("? * * * *"), "minute field \"?\""));
  CHECK(contains(parse_error("* * L * *"), "day-of-month field \"L\""));
  CHECK(contains(parse_error("* * * * 1#2"), "day-of-week field \"1#2\""));
}

TEST_CASE("ranges must run forwards") {
  CHECK(contains(parse_error("* 22-2 * * *"),
                 "hour field \"22-2\": range 22-2 runs backwards; cron ranges do not wrap around"));
  CHECK(contains(parse_error("* * * * fri-mon"), "day-of-week field \"fri-mon\": range fri-mon runs backwards"));
}

TEST_CASE("steps must follow '*' or a range and lie within the field") {
  CHECK(parse_error("*/0 * * * *") == "minute field \"*/0\": step 0 must be between 1 and 60");
  CHECK(parse_error("*/61 * * * *") == "minute field \"*/61\": step 61 must be between 1 and 60");
  CHECK(contains(parse_error("* */25 * * *"), "step 25 must be between 1 and 24"));
  CHECK(contains(parse_error("5/10 * * * *"), "minute field \"5/10\": a step needs '*' or a range before it: "
                                              "write \"*/10\" or \"5-59/10\""));
  CHECK(contains(parse_error("*/x * * * *"), "step \"x\" is not a number"));
  CHECK(contains(parse_error("*/ * * * *"), "step \"\" is not a number"));
  CHECK(contains(parse_error("*/2/3 * * * *"), "has more than one '/'"));
  CHECK(contains(parse_error("* * * */mon *"), "month field \"*/mon\": step \"mon\" is not a number"));
}

TEST_CASE("expressions that can never fire are refused") {
  CHECK(parse_error("0 0 30 2 *") ==
        "day-of-month field \"30\" never occurs in month field \"2\", so the expression would never fire");
  CHECK(contains(parse_error("0 0 31 apr,jun,sep,nov *"), "never fire"));
  CHECK(contains(parse_error("0 0 31 2,4 */2"), "never fire"));
  // Feb 29 exists in leap years, and with day-of-week restricted too cron
  // ORs the fields, so these do fire.
  CHECK(cron_expression::parse("0 0 29 2 *").has_value());
  CHECK(cron_expression::parse("0 0 30 2 mon").has_value());
}

TEST_CASE("value() on an error throws with the message") {
  auto r = cron_expression::parse("61 * * * *");
  CHECK_THROWS_WITH_AS(r.value(), "minute field \"61\": 61 is out of range 0-59", std::invalid_argument);
}
