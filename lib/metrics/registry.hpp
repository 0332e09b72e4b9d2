#pragma once
// A set of metric families and their exposition, in the order they were
// declared:
//
//   metrics::registry r;
//   auto& done = r.add_counter("celeriac_tasks_total", "Tasks finished", {"task", "outcome"});
//   done.inc({"tasks.add", "success"});
//   std::string body = r.render();  // text format 0.0.4
//
// Declaring a family whose name, or one of whose sample names (a
// histogram's _bucket/_sum/_count), is already taken throws
// std::invalid_argument, so two families can never write the same series.

#include <memory>
#include <string>
#include <vector>

#include "metrics/family.hpp"

namespace celeriac::metrics {

class registry {
public:
  counter& add_counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  gauge& add_gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  histogram& add_histogram(std::string name, std::string help, std::vector<std::string> label_names,
                           std::vector<double> bounds);

  const std::vector<std::unique_ptr<family>>& families() const noexcept { return families_; }

  // Every family: HELP, TYPE, then its series; ends with a line feed.
  std::string render() const;

private:
  template <typename F>
  F& adopt(std::unique_ptr<F> f);

  std::vector<std::unique_ptr<family>> families_;
  std::vector<std::string> taken_;  // every sample name in use
};

}  // namespace celeriac::metrics
