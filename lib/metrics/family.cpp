#include "metrics/family.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "metrics/names.hpp"
#include "metrics/text_format.hpp"

namespace celeriac::metrics {

std::string_view type_name(metric_type t) noexcept {
  switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
  }
  return "untyped";
}

family::family(std::string name, std::string help, metric_type type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {
  if (!valid_metric_name(name_))
    throw std::invalid_argument(fmt::format("metric name '{}' is not [a-zA-Z_:][a-zA-Z0-9_:]*", name_));
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    const std::string& l = label_names_[i];
    if (!valid_label_name(l))
      throw std::invalid_argument(fmt::format("metric {}: label name '{}' is not [a-zA-Z_][a-zA-Z0-9_]* (and may "
                                              "not start with __)",
                                              name_, l));
    if (std::find(label_names_.begin(), label_names_.begin() + static_cast<std::ptrdiff_t>(i), l) !=
        label_names_.begin() + static_cast<std::ptrdiff_t>(i))
      throw std::invalid_argument(fmt::format("metric {}: label '{}' named twice", name_, l));
  }
}

std::vector<std::string> family::sample_names() const {
  if (type_ != metric_type::histogram) return {name_};
  return {name_ + "_bucket", name_ + "_sum", name_ + "_count"};
}

void family::check_arity(const label_values& values) const {
  if (values.size() != label_names_.size())
    throw std::invalid_argument(fmt::format("metric {}: {} label value(s) given for {} label(s)", name_,
                                            values.size(), label_names_.size()));
}

std::string family::series(std::string_view sample_name, const label_values& values, std::string_view extra_label,
                           std::string_view extra_value) const {
  std::string out(sample_name);
  if (label_names_.empty() && extra_label.empty()) return out;
  out += '{';
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    if (i > 0) out += ',';
    out += fmt::format("{}=\"{}\"", label_names_[i], escape_label_value(values[i]));
  }
  if (!extra_label.empty())
    out += fmt::format("{}{}=\"{}\"", label_names_.empty() ? "" : ",", extra_label, escape_label_value(extra_value));
  out += '}';
  return out;
}

void family::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help_), name_, type_name(type_));
  render_series(out);
}

// ---- counters and gauges -------------------------------------------------

double scalar_family::value(const label_values& values) const {
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second;
}

double& scalar_family::at(const label_values& values) {
  check_arity(values);
  return series_[values];
}

void scalar_family::render_series(std::string& out) const {
  for (const auto& [values, v] : series_) out += fmt::format("{} {}\n", series(name(), values), format_value(v));
}

counter::counter(std::string name, std::string help, std::vector<std::string> label_names)
    : scalar_family(std::move(name), std::move(help), metric_type::counter, std::move(label_names)) {
  if (!this->name().ends_with("_total"))
    throw std::invalid_argument(fmt::format("counter {}: a counter's name ends in _total", this->name()));
  if (this->label_names().empty()) at({});
}

void counter::inc(const label_values& values, double by) {
  if (!(by >= 0)) throw std::invalid_argument(fmt::format("counter {}: cannot add {}", name(), by));
  at(values) += by;
}

void counter::set_total(const label_values& values, double total) {
  if (!(total >= 0)) throw std::invalid_argument(fmt::format("counter {}: total {} is negative", name(), total));
  at(values) = total;
}

gauge::gauge(std::string name, std::string help, std::vector<std::string> label_names)
    : scalar_family(std::move(name), std::move(help), metric_type::gauge, std::move(label_names)) {
  if (this->label_names().empty()) at({});
}

void gauge::set(const label_values& values, double v) { at(values) = v; }

void gauge::add(const label_values& values, double by) { at(values) += by; }

// ---- histogram -----------------------------------------------------------

histogram::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : family(std::move(name), std::move(help), metric_type::histogram, std::move(label_names)),
      bounds_(std::move(bounds)) {
  const auto& labels = this->label_names();
  if (std::find(labels.begin(), labels.end(), "le") != labels.end())
    throw std::invalid_argument(fmt::format("histogram {}: 'le' is the bucket label, not one of its own", this->name()));
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && !(bounds_[i] > bounds_[i - 1])))
      throw std::invalid_argument(fmt::format("histogram {}: bucket bounds must be finite and strictly increasing",
                                              this->name()));
  }
  if (this->label_names().empty()) at({});
}

histogram::data& histogram::at(const label_values& values) {
  check_arity(values);
  data& d = series_[values];
  if (d.per_bucket.empty()) d.per_bucket.assign(bounds_.size() + 1, 0);
  return d;
}

void histogram::observe(const label_values& values, double v) {
  data& d = at(values);
  // Bucket i counts values <= bounds_[i] (Prometheus's "le").
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++d.per_bucket[i];
  d.sum += v;
}

void histogram::add_counts(const label_values& values, std::span<const std::uint64_t> per_bucket, double sum) {
  if (per_bucket.size() != bounds_.size() + 1)
    throw std::invalid_argument(fmt::format("histogram {}: {} bucket counts given for {} buckets", name(),
                                            per_bucket.size(), bounds_.size() + 1));
  data& d = at(values);
  for (std::size_t i = 0; i < per_bucket.size(); ++i) d.per_bucket[i] += per_bucket[i];
  d.sum += sum;
}

const histogram::data* histogram::find(const label_values& values) const {
  auto it = series_.find(values);
  return it == series_.end() ? nullptr : &it->second;
}

void histogram::render_series(std::string& out) const {
  const std::string bucket = name() + "_bucket";
  for (const auto& [values, d] : series_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += d.per_bucket[i];
      out += fmt::format("{} {}\n", series(bucket, values, "le", format_value(bounds_[i])), cumulative);
    }
    cumulative += d.per_bucket.back();
    out += fmt::format("{} {}\n", series(bucket, values, "le", "+Inf"), cumulative);
    out += fmt::format("{} {}\n", series(name() + "_sum", values), format_value(d.sum));
    out += fmt::format("{} {}\n", series(name() + "_count", values), cumulative);
  }
}

}  // namespace celeriac::metrics
