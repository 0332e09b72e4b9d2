#pragma once
// Metric families: a name, a help text, label names, and one series per
// combination of label values.
//
//   counter   monotonic total; its name ends in _total
//   gauge     a value that goes up and down
//   histogram cumulative buckets with fixed upper bounds, a sum and a count
//
// Label values are given in the order of the family's label names; the
// wrong number of them throws std::invalid_argument (a programming error).
// A family without labels has its one series from the start (value 0), so
// it is exposed before anything happened. Nothing here locks: a family is
// used by one thread, or rebuilt from a snapshot for each scrape.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace celeriac::metrics {

enum class metric_type { counter, gauge, histogram };
std::string_view type_name(metric_type t) noexcept;

using label_values = std::vector<std::string>;

class family {
public:
  virtual ~family() = default;
  family(const family&) = delete;
  family& operator=(const family&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  metric_type type() const noexcept { return type_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }
  // The sample names this family writes (name, or name_bucket/_sum/_count).
  std::vector<std::string> sample_names() const;

  // Appends HELP, TYPE and every series, sorted by label values.
  void render(std::string& out) const;

protected:
  // Throws std::invalid_argument for a bad metric or label name.
  family(std::string name, std::string help, metric_type type, std::vector<std::string> label_names);
  void check_arity(const label_values& values) const;
  // `name{a="x",b="y"[,extra]}` for one series.
  std::string series(std::string_view sample_name, const label_values& values,
                     std::string_view extra_label = {}, std::string_view extra_value = {}) const;
  virtual void render_series(std::string& out) const = 0;

private:
  std::string name_;
  std::string help_;
  metric_type type_;
  std::vector<std::string> label_names_;
};

// A family whose series each hold one number (counters and gauges).
class scalar_family : public family {
public:
  double value(const label_values& values) const;

protected:
  using family::family;
  double& at(const label_values& values);

private:
  void render_series(std::string& out) const override;
  std::map<label_values, double> series_;
};

class counter final : public scalar_family {
public:
  // Throws std::invalid_argument unless name ends in _total.
  counter(std::string name, std::string help, std::vector<std::string> label_names);
  // Adds `by` (>= 0; a negative or NaN amount throws std::invalid_argument).
  void inc(const label_values& values, double by = 1);
  // Sets the total read from elsewhere (a snapshot of shared counters).
  void set_total(const label_values& values, double total);
};

class gauge final : public scalar_family {
public:
  gauge(std::string name, std::string help, std::vector<std::string> label_names);
  void set(const label_values& values, double v);
  void add(const label_values& values, double by);
};

class histogram final : public family {
public:
  // bounds: the finite upper bounds, strictly increasing (the +Inf bucket
  // is implicit); a label named "le" is refused. Throws
  // std::invalid_argument otherwise.
  histogram(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds);

  const std::vector<double>& bounds() const noexcept { return bounds_; }
  void observe(const label_values& values, double v);
  // Adds counts read from elsewhere: one per bucket, NOT cumulative, the
  // last for values above every bound (bounds().size() + 1 in all), and
  // their sum. A wrong number of counts throws std::invalid_argument.
  void add_counts(const label_values& values, std::span<const std::uint64_t> per_bucket, double sum);

  struct data {
    std::vector<std::uint64_t> per_bucket;  // not cumulative
    double sum = 0;
  };
  const data* find(const label_values& values) const;

private:
  data& at(const label_values& values);
  void render_series(std::string& out) const override;
  std::vector<double> bounds_;
  std::map<label_values, data> series_;
};

}  // namespace celeriac::metrics
