#pragma once
// Helpers for tasks to read their arguments the way a Python function
// signature would bind them: positionally first, then by keyword, with a
// TypeError (Celery's failure for a bad call) when they do not fit.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "json/value.hpp"

namespace celeriac::app {

// Binds a Python-style signature: `params` in order; each is taken from
// args[i] or kwargs[name]. Throws type_error on a missing argument, a
// duplicate (both positional and keyword), too many positionals, or an
// unexpected keyword — with Python's wording, so Celery users recognise it.
class bound_args {
public:
  bound_args(std::string_view task, const json::array& args, const json::object& kwargs,
             std::initializer_list<std::string_view> params, std::size_t required);

  // The value bound to params[i], or nullptr for an omitted optional one.
  const json::value* get(std::size_t i) const { return values_[i]; }

  // Typed access with a TypeError naming the parameter on a mismatch.
  double number(std::size_t i) const;
  std::int64_t integer(std::size_t i) const;
  const std::string& string(std::size_t i) const;

private:
  std::string task_;
  std::vector<std::string_view> params_;
  std::vector<const json::value*> values_;
};

}  // namespace celeriac::app
