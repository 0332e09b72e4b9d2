#include "tasks/llm/config_reader.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "util/edit_distance.hpp"

#include "tasks/llm/provider_config.hpp"

namespace celeriac::tasks::llm {
namespace {

// A near miss: a typo or two ("modle"), or a shortened or lengthened
// form ("max_retry" for "max_retries").
std::string_view closest(std::string_view key, std::initializer_list<std::string_view> known) {
  std::string_view best;
  std::size_t best_distance = 3;
  for (auto k : known)
    if (auto d = util::edit_distance(key, k); d < best_distance) {
      best = k;
      best_distance = d;
    }
  if (!best.empty() || key.size() < 4) return best;
  for (auto k : known) {
    const std::size_t common = std::min(key.size(), k.size()) - 1;
    if (key.substr(0, common) == k.substr(0, common)) return k;
  }
  return {};
}

}  // namespace

config_reader::config_reader(std::string_view source, const toml::table& table, std::string what)
    : source_(source), table_(table), what_(std::move(what)) {}

void config_reader::fail(const toml::node* at, std::string_view message) const {
  const auto line = (at ? at->source() : table_.source()).begin.line;
  throw config_error(fmt::format("{}:{}: {}: {}", source_, line, what_, message));
}

void config_reader::allow_only(std::initializer_list<std::string_view> known,
                               std::string (*hint)(std::string_view key)) const {
  for (const auto& [k, v] : table_) {
    if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
    std::string message = fmt::format("unknown key '{}'", k.str());
    if (std::string more = hint ? hint(k.str()) : std::string(); !more.empty()) {
      message += ": " + more;
    } else if (auto near = closest(k.str(), known); !near.empty()) {
      message += fmt::format(": did you mean '{}'?", near);
    } else {
      std::string list;
      for (auto k2 : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k2);
      message += fmt::format(" (known keys: {})", list);
    }
    fail(&v, message);
  }
}

std::optional<std::string> config_reader::text(std::string_view key) const {
  const toml::node* n = table_.get(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) fail(n, fmt::format("{} must be a string in double quotes", key));
  return std::string(*n->value<std::string>());
}

std::optional<double> config_reader::number(std::string_view key, double min, double max) const {
  const toml::node* n = table_.get(key);
  if (!n) return std::nullopt;
  if (!n->is_number()) fail(n, fmt::format("{} must be a number", key));
  const double v = *n->value<double>();
  if (!(v >= min && v <= max)) fail(n, fmt::format("{} must be between {} and {}, not {}", key, min, max, v));
  return v;
}

std::optional<long> config_reader::integer(std::string_view key, long min, long max) const {
  const toml::node* n = table_.get(key);
  if (!n) return std::nullopt;
  if (!n->is_integer()) fail(n, fmt::format("{} must be a whole number", key));
  const auto v = *n->value<std::int64_t>();
  if (v < min || v > max) fail(n, fmt::format("{} must be between {} and {}, not {}", key, min, max, v));
  return static_cast<long>(v);
}

std::optional<bool> config_reader::boolean(std::string_view key) const {
  const toml::node* n = table_.get(key);
  if (!n) return std::nullopt;
  if (!n->is_boolean()) fail(n, fmt::format("{} must be true or false", key));
  return *n->value<bool>();
}

std::optional<std::chrono::milliseconds> config_reader::duration(std::string_view key) const {
  const toml::node* n = table_.get(key);
  if (!n) return std::nullopt;
  std::optional<std::chrono::milliseconds> d;
  if (n->is_string()) d = parse_duration(*n->value<std::string>());
  if (!d || d->count() <= 0)
    fail(n, fmt::format("{} must be a positive duration in quotes, such as \"500ms\", \"5s\", \"2m\" or \"1m30s\"",
                        key));
  return d;
}

}  // namespace celeriac::tasks::llm
