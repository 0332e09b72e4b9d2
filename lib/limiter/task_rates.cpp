#include "limiter/task_rates.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <fmt/format.h>

namespace celeriac::limiter {
namespace {

bool means_no_limit(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  auto is = [&](std::string_view word) {
    return std::ranges::equal(text, word, [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a)) == b;
    });
  };
  return is("off") || is("none");
}

// The entry of `task` in `source`, or nullptr when the source is silent.
const std::optional<limit>* entry(const task_rate_map& source, std::string_view task) {
  const auto it = source.find(task);
  return it == source.end() ? nullptr : &it->second;
}

}  // namespace

std::string task_limit_key(std::string_view task) { return fmt::format("celeriac:limit:task:{}", task); }

std::optional<limit> parse_task_rate(std::string_view task, std::string_view text) {
  if (means_no_limit(text)) return std::nullopt;
  try {
    return parse_rate(task_limit_key(task), text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("the rate limit of task {}: {}", task, e.what()));
  }
}

task_rate_map parse_task_rates(std::span<const std::pair<std::string, std::string>> entries) {
  task_rate_map out;
  for (const auto& [task, text] : entries) {
    if (task.empty())
      throw std::invalid_argument(fmt::format("a rate limit '{}' names no task: give NAME=RATE, e.g. tasks.add=10/m",
                                              text));
    out.insert_or_assign(task, parse_task_rate(task, text));
  }
  return out;
}

task_rates::task_rates(task_rate_map flags, task_rate_map defaults)
    : flags_(std::move(flags)), defaults_(std::move(defaults)) {}

const limit* task_rates::find(std::string_view task) const {
  for (const task_rate_map* source : {&runtime_, &flags_, &defaults_})
    if (const auto* e = entry(*source, task)) return e->has_value() ? &**e : nullptr;
  return nullptr;
}

runtime_rates read_runtime_rates(const resp::value& reply) {
  const auto items = reply.elements();
  if (!items || items->size() % 2 != 0)
    throw std::runtime_error(fmt::format("reading {}: expected field/value pairs, got {}", runtime_rates_key,
                                         reply.to_debug_string()));
  runtime_rates out;
  for (std::size_t i = 0; i < items->size(); i += 2) {
    const auto task = (*items)[i].as_string();
    const auto text = (*items)[i + 1].as_string();
    if (!task || !text)
      throw std::runtime_error(fmt::format("reading {}: a field or value is not a string in {}", runtime_rates_key,
                                           reply.to_debug_string()));
    try {
      out.rates.insert_or_assign(std::string(*task), parse_task_rate(*task, *text));
    } catch (const std::invalid_argument& e) {
      out.bad.push_back({std::string(*task), std::string(*text), e.what()});
    }
  }
  return out;
}

}  // namespace celeriac::limiter
