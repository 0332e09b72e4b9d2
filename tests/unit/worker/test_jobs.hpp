#pragma once
// Jobs for executor tests: each with a task definition of its own, kept
// here so it outlives the executor's use of the job.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "worker/executor.hpp"

namespace celeriac::test {

class test_jobs {
public:
  // Job `seq` of task `name`, whose function is fn; its id is "id-<seq>".
  worker::job make(std::uint64_t seq, const std::string& name, app::task_function fn) {
    auto def = std::make_unique<app::task_definition>(app::task_definition{name, std::move(fn), {}});
    worker::job j;
    j.seq = seq;
    j.task = def.get();
    j.request.id = "id-" + std::to_string(seq);
    j.request.name = name;
    defs_.push_back(std::move(def));
    return j;
  }

private:
  std::vector<std::unique_ptr<app::task_definition>> defs_;
};

}  // namespace celeriac::test
