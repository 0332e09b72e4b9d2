#include <doctest/doctest.h>

#include "app/args.hpp"
#include "app/task_error.hpp"

using namespace celeriac;
using app::bound_args;

static std::string type_error_of(auto&& f) {
  try {
    f();
  } catch (const app::task_error& e) {
    CHECK(e.exc_type() == "TypeError");
    return e.what();
  }
  return "no error";
}

TEST_CASE("arguments bind positionally, then by keyword") {
  json::array args{json::value(1)};
  json::object kwargs{{"y", json::value(2.5)}};
  bound_args a("add", args, kwargs, {"x", "y"}, 2);
  CHECK(a.integer(0) == 1);
  CHECK(a.number(1) == 2.5);
}

TEST_CASE("binding failures read like Python's TypeError") {
  json::array none;
  json::object no_kwargs;
  CHECK(type_error_of([&] { bound_args("add", none, no_kwargs, {"x", "y"}, 2); }) ==
        "add() missing 2 required positional arguments: 'x' and 'y'");
  json::array three{json::value(1), json::value(2), json::value(3)};
  CHECK(type_error_of([&] { bound_args("add", three, no_kwargs, {"x", "y"}, 2); }) ==
        "add() takes 2 positional arguments but 3 were given");
  json::array one{json::value(1)};
  json::object dup{{"x", json::value(2)}};
  CHECK(type_error_of([&] { bound_args("add", one, dup, {"x", "y"}, 1); }) ==
        "add() got multiple values for argument 'x'");
  json::object extra{{"z", json::value(2)}};
  CHECK(type_error_of([&] { bound_args("add", one, extra, {"x", "y"}, 1); }) ==
        "add() got an unexpected keyword argument 'z'");
  json::array text{json::value("a")};
  CHECK(type_error_of([&] { bound_args("sleep", text, no_kwargs, {"seconds"}, 1).number(0); }) ==
        "sleep(): argument 'seconds' must be a number");
}
