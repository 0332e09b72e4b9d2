// Prometheus text format 0.0.4: escaping and number formatting.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "metrics/names.hpp"
#include "metrics/text_format.hpp"

using namespace celeriac::metrics;

TEST_CASE("label values escape backslash, double quote and line feed, nothing else") {
  CHECK(escape_label_value("plain") == "plain");
  CHECK(escape_label_value(R"(a\b)") == R"(a\\b)");
  CHECK(escape_label_value(R"(say "hi")") == R"(say \"hi\")");
  CHECK(escape_label_value("two\nlines") == R"(two\nlines)");
  CHECK(escape_label_value("tab\there") == "tab\there");
  CHECK(escape_label_value("caf\xc3\xa9 \xe2\x98\x95") == "caf\xc3\xa9 \xe2\x98\x95");
  CHECK(escape_label_value(R"(\"
)") == R"(\\\"\n)");
  CHECK(escape_label_value("") == "");
}

TEST_CASE("help text escapes backslash and line feed but keeps double quotes") {
  CHECK(escape_help(R"(a "quoted" \ word)") == R"(a "quoted" \\ word)");
  CHECK(escape_help("line\nbreak") == R"(line\nbreak)");
}

TEST_CASE("values: integers plain, others shortest round-trip, special values spelled as Go reads them") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(-0.0) == "0");
  CHECK(format_value(1204) == "1204");
  CHECK(format_value(-3) == "-3");
  CHECK(format_value(0.005) == "0.005");
  CHECK(format_value(2.5) == "2.5");
  CHECK(format_value(1e-7) == "1e-07");
  CHECK(format_value(9007199254740992.0) == "9007199254740992");
  CHECK(format_value(1e300) == "1e+300");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
  const double third = 1.0 / 3.0;
  CHECK(std::stod(format_value(third)) == third);  // round-trips exactly
}

TEST_CASE("metric and label names") {
  CHECK(valid_metric_name("celeriac_tasks_total"));
  CHECK(valid_metric_name("a:b_c"));
  CHECK(valid_metric_name("_x"));
  CHECK_FALSE(valid_metric_name(""));
  CHECK_FALSE(valid_metric_name("1abc"));
  CHECK_FALSE(valid_metric_name("a-b"));
  CHECK_FALSE(valid_metric_name("a b"));
  CHECK(valid_label_name("task"));
  CHECK(valid_label_name("_private"));
  CHECK_FALSE(valid_label_name("__reserved"));
  CHECK_FALSE(valid_label_name("a:b"));
  CHECK_FALSE(valid_label_name("9"));
  CHECK_FALSE(valid_label_name(""));
}
