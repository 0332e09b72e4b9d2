// Which rate limit applies to a task: run-time value, worker flag,
// registration default; reading the run-time hash.
#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "limiter/task_rates.hpp"

using namespace celeriac;
using namespace std::chrono_literals;

namespace {

using pairs = std::vector<std::pair<std::string, std::string>>;

limiter::task_rate_map parse(const pairs& p) { return limiter::parse_task_rates(p); }

resp::value bulks(std::vector<std::string> items) {
  std::vector<resp::value> out;
  for (auto& s : items) out.push_back(resp::value::make_bulk(std::move(s)));
  return resp::value::make_array(std::move(out));
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a task's rate: Celery's text, keyed celeriac:limit:task:<name>") {
  auto l = limiter::parse_task_rate("tasks.add", "10/m");
  REQUIRE(l);
  CHECK(l->key == "celeriac:limit:task:tasks.add");
  CHECK(l->amount_per_window == 10);
  CHECK(l->window == 60s);
  CHECK(limiter::task_limit_key("a.b") == "celeriac:limit:task:a.b");
}

TEST_CASE("0, off, none and empty mean no limit") {
  for (const char* text : {"0", "0/m", "off", "OFF", " none ", "None", ""})
    CHECK_FALSE(limiter::parse_task_rate("t", text).has_value());
}

TEST_CASE("a bad rate is refused naming the task and the text") {
  const std::string m = message_of([] { limiter::parse_task_rate("tasks.add", "10/d"); });
  CHECK(m.find("tasks.add") != std::string::npos);
  CHECK(m.find("10/d") != std::string::npos);
  CHECK_THROWS_AS(limiter::parse_task_rate("t", "ten"), std::invalid_argument);
  CHECK_THROWS_AS(limiter::parse_task_rate("t", "offf"), std::invalid_argument);
  CHECK_THROWS_AS(parse({{"", "10/s"}}), std::invalid_argument);
  const std::string flags = message_of([] { parse({{"ok", "1/s"}, {"tasks.mul", "fast"}}); });
  CHECK(flags.find("tasks.mul") != std::string::npos);
  CHECK(flags.find("fast") != std::string::npos);
}

TEST_CASE("a repeated flag: the last one wins") {
  auto m = parse({{"t", "1/s"}, {"t", "5/m"}});
  REQUIRE(m.size() == 1);
  CHECK(m.at("t")->amount_per_window == 5);
}

TEST_CASE("precedence: run time, then flags, then the registration default") {
  limiter::task_rates rates(parse({{"flagged", "10/s"}, {"both", "20/s"}, {"flag_off", "0"}}),
                            parse({{"defaulted", "1/m"}, {"both", "2/m"}, {"flag_off", "3/m"}, {"runtime", "4/m"}}));
  CHECK(rates.find("unknown") == nullptr);
  REQUIRE(rates.find("flagged"));
  CHECK(rates.find("flagged")->amount_per_window == 10);
  REQUIRE(rates.find("defaulted"));
  CHECK(rates.find("defaulted")->window == 60s);
  CHECK(rates.find("both")->amount_per_window == 20);
  // A flag of 0 switches a default off.
  CHECK(rates.find("flag_off") == nullptr);

  rates.set_runtime(parse({{"runtime", "7/h"}, {"both", "off"}, {"flagged", "30/s"}}));
  CHECK(rates.find("runtime")->window == 3600s);
  CHECK(rates.find("runtime")->key == "celeriac:limit:task:runtime");
  CHECK(rates.find("both") == nullptr);  // off at run time beats flag and default
  CHECK(rates.find("flagged")->amount_per_window == 30);

  // The run-time entries gone: back to the flags and defaults.
  rates.set_runtime({});
  CHECK(rates.find("runtime")->amount_per_window == 4);
  CHECK(rates.find("both")->amount_per_window == 20);
  CHECK(rates.find("flagged")->amount_per_window == 10);
}

TEST_CASE("the run-time hash: values parsed, bad entries set aside with their error") {
  auto r = limiter::read_runtime_rates(bulks({"tasks.add", "10/m", "tasks.off", "none", "tasks.bad", "10/d"}));
  CHECK(r.rates.size() == 2);
  CHECK(r.rates.at("tasks.add")->amount_per_window == 10);
  CHECK_FALSE(r.rates.at("tasks.off").has_value());
  REQUIRE(r.bad.size() == 1);
  CHECK(r.bad[0].task == "tasks.bad");
  CHECK(r.bad[0].text == "10/d");
  CHECK(r.bad[0].error.find("tasks.bad") != std::string::npos);

  std::vector<resp::value> flat;
  flat.push_back(resp::value::make_bulk("a"));
  flat.push_back(resp::value::make_bulk("1/s"));
  auto from_map = limiter::read_runtime_rates(resp::value::make_map(std::move(flat)));
  CHECK(from_map.rates.at("a")->amount_per_window == 1);

  CHECK(limiter::read_runtime_rates(bulks({})).rates.empty());
}

TEST_CASE("a hash reply of another shape throws") {
  CHECK_THROWS_AS(limiter::read_runtime_rates(bulks({"odd"})), std::runtime_error);
  CHECK_THROWS_AS(limiter::read_runtime_rates(resp::value::make_integer(3)), std::runtime_error);
  std::vector<resp::value> items;
  items.push_back(resp::value::make_bulk("a"));
  items.push_back(resp::value::make_integer(1));
  CHECK_THROWS_AS(limiter::read_runtime_rates(resp::value::make_array(std::move(items))), std::runtime_error);
}
