#include "metrics/registry.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace celeriac::metrics {

template <typename F>
F& registry::adopt(std::unique_ptr<F> f) {
  std::vector<std::string> names = f->sample_names();
  names.push_back(f->name());
  for (const auto& n : names)
    if (std::find(taken_.begin(), taken_.end(), n) != taken_.end())
      throw std::invalid_argument(fmt::format("metric {}: the name {} is already taken", f->name(), n));
  taken_.insert(taken_.end(), names.begin(), names.end());
  F& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

counter& registry::add_counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return adopt(std::make_unique<counter>(std::move(name), std::move(help), std::move(label_names)));
}

gauge& registry::add_gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return adopt(std::make_unique<gauge>(std::move(name), std::move(help), std::move(label_names)));
}

histogram& registry::add_histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                   std::vector<double> bounds) {
  return adopt(
      std::make_unique<histogram>(std::move(name), std::move(help), std::move(label_names), std::move(bounds)));
}

std::string registry::render() const {
  std::string out;
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace celeriac::metrics
