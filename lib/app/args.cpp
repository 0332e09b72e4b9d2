#include "app/args.hpp"

#include <fmt/format.h>

#include "app/task_error.hpp"

namespace celeriac::app {

bound_args::bound_args(std::string_view task, const json::array& args, const json::object& kwargs,
                       std::initializer_list<std::string_view> params, std::size_t required)
    : task_(task), params_(params), values_(params.size(), nullptr) {
  if (args.size() > params_.size())
    throw type_error(fmt::format("{}() takes {} positional argument{} but {} were given", task_, params_.size(),
                                 params_.size() == 1 ? "" : "s", args.size()));
  for (std::size_t i = 0; i < args.size(); ++i) values_[i] = &args[i];
  for (const auto& [key, v] : kwargs) {
    std::size_t i = 0;
    while (i < params_.size() && params_[i] != key) ++i;
    if (i == params_.size())
      throw type_error(fmt::format("{}() got an unexpected keyword argument '{}'", task_, key));
    if (values_[i]) throw type_error(fmt::format("{}() got multiple values for argument '{}'", task_, key));
    values_[i] = &v;
  }
  std::vector<std::string> missing;
  for (std::size_t i = 0; i < required; ++i)
    if (!values_[i]) missing.push_back(fmt::format("'{}'", params_[i]));
  if (!missing.empty())
    throw type_error(fmt::format("{}() missing {} required positional argument{}: {}", task_, missing.size(),
                                 missing.size() == 1 ? "" : "s", fmt::join(missing, " and ")));
}

double bound_args::number(std::size_t i) const {
  const json::value* v = values_[i];
  if (!v || !v->is_number())
    throw type_error(fmt::format("{}(): argument '{}' must be a number", task_, params_[i]));
  return v->as_double();
}

std::int64_t bound_args::integer(std::size_t i) const {
  const json::value* v = values_[i];
  if (!v || !v->is_integer())
    throw type_error(fmt::format("{}(): argument '{}' must be an integer", task_, params_[i]));
  return v->as_integer();
}

const std::string& bound_args::string(std::size_t i) const {
  const json::value* v = values_[i];
  if (!v || !v->is_string())
    throw type_error(fmt::format("{}(): argument '{}' must be a string", task_, params_[i]));
  return v->as_string();
}

}  // namespace celeriac::app
