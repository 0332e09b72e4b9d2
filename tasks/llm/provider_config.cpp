#include "tasks/llm/provider_config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace celeriac::tasks::llm {
namespace {

using std::chrono::milliseconds;

provider_config heuristic_provider() {
  provider_config p;
  p.name = "heuristic";
  p.kind = provider_kind::heuristic;
  p.priority = 1'000'000;
  return p;
}

bool valid_name(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

bool valid_url(std::string_view u) {
  for (std::string_view scheme : {"http://", "https://"})
    if (u.substr(0, scheme.size()) == scheme && u.size() > scheme.size() && u[scheme.size()] != '/') return true;
  return false;
}

// Reads one table's keys, complaining about anything unknown or mistyped.
class table_reader {
public:
  table_reader(std::string_view source, const toml::table& t, std::string what)
      : source_(source), t_(t), what_(std::move(what)) {}

  [[noreturn]] void fail(const toml::node* at, const std::string& message) const {
    std::size_t line = at ? static_cast<std::size_t>(at->source().begin.line)
                          : static_cast<std::size_t>(t_.source().begin.line);
    throw config_error(fmt::format("{}:{}: {}: {}", source_, line, what_, message));
  }

  void allow_only(std::initializer_list<std::string_view> keys) const {
    for (const auto& [k, v] : t_) {
      if (std::find(keys.begin(), keys.end(), k.str()) != keys.end()) continue;
      if (v.is_table() || v.is_array_of_tables()) continue;  // nested tables are checked by their owner
      std::string list;
      for (auto k2 : keys) list += fmt::format("{}{}", list.empty() ? "" : ", ", k2);
      fail(&v, fmt::format("unknown key '{}' (known: {})", k.str(), list));
    }
  }

  std::optional<std::string> text(std::string_view key) const {
    const toml::node* n = t_.get(key);
    if (!n) return std::nullopt;
    if (!n->is_string()) fail(n, fmt::format("{} must be a string", key));
    return std::string(*n->value<std::string>());
  }

  std::optional<double> number(std::string_view key, double min, double max) const {
    const toml::node* n = t_.get(key);
    if (!n) return std::nullopt;
    if (!n->is_number()) fail(n, fmt::format("{} must be a number", key));
    double v = *n->value<double>();
    if (!(v >= min && v <= max)) fail(n, fmt::format("{} must be between {} and {}, not {}", key, min, max, v));
    return v;
  }

  std::optional<long> integer(std::string_view key, long min, long max) const {
    const toml::node* n = t_.get(key);
    if (!n) return std::nullopt;
    if (!n->is_integer()) fail(n, fmt::format("{} must be an integer", key));
    long v = static_cast<long>(*n->value<std::int64_t>());
    if (v < min || v > max) fail(n, fmt::format("{} must be between {} and {}, not {}", key, min, max, v));
    return v;
  }

  std::optional<bool> boolean(std::string_view key) const {
    const toml::node* n = t_.get(key);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) fail(n, fmt::format("{} must be true or false", key));
    return *n->value<bool>();
  }

  std::optional<milliseconds> duration(std::string_view key) const {
    const toml::node* n = t_.get(key);
    if (!n) return std::nullopt;
    std::optional<milliseconds> d;
    if (n->is_string()) d = parse_duration(*n->value<std::string>());
    if (!d || d->count() <= 0)
      fail(n, fmt::format("{} must be a duration such as \"500ms\", \"5s\" or \"2m\"", key));
    return d;
  }

  const toml::node* node(std::string_view key) const { return t_.get(key); }

private:
  std::string_view source_;
  const toml::table& t_;
  std::string what_;
};

provider_config read_provider(std::string_view source, const toml::table& t, std::size_t index) {
  table_reader r(source, t, fmt::format("[[provider]] #{}", index + 1));
  r.allow_only({"name", "kind", "base_url", "model", "api_key_env", "priority", "price_in_per_mtok",
                "price_out_per_mtok", "requests_per_minute", "tokens_per_minute", "connect_timeout", "request_timeout",
                "max_retries", "backoff_base", "backoff_max", "down_after", "down_for", "max_tokens", "ca_file",
                "temperature"});
  provider_config p;
  auto name = r.text("name");
  if (!name) r.fail(nullptr, "name is required, e.g. name = \"openai\"");
  if (!valid_name(*name)) r.fail(r.node("name"), "name must be 1-64 letters, digits, '_', '.' or '-'");
  p.name = *name;
  if (auto kind = r.text("kind")) {
    if (*kind == "openai")
      p.kind = provider_kind::openai;
    else if (*kind == "heuristic")
      p.kind = provider_kind::heuristic;
    else
      r.fail(r.node("kind"), fmt::format("kind '{}' is unknown: use \"openai\" (any OpenAI-compatible server) or "
                                         "\"heuristic\"",
                                         *kind));
  }
  if (p.kind == provider_kind::openai) {
    auto url = r.text("base_url");
    if (!url) r.fail(nullptr, "base_url is required, e.g. base_url = \"https://api.openai.com/v1\"");
    if (!valid_url(*url))
      r.fail(r.node("base_url"), fmt::format("base_url '{}' must start with http:// or https://", *url));
    while (url->size() > 8 && url->back() == '/') url->pop_back();
    p.base_url = *url;
    auto model = r.text("model");
    if (!model || model->empty()) r.fail(nullptr, "model is required, e.g. model = \"gpt-4o-mini\"");
    p.model = *model;
  }
  if (auto v = r.text("api_key_env")) p.api_key_env = *v;
  if (auto v = r.integer("priority", -1'000'000, 1'000'000)) p.priority = static_cast<int>(*v);
  if (auto v = r.number("price_in_per_mtok", 0, 1e6)) p.price_in_per_mtok = *v;
  if (auto v = r.number("price_out_per_mtok", 0, 1e6)) p.price_out_per_mtok = *v;
  if (auto v = r.integer("requests_per_minute", 0, 100'000'000)) p.requests_per_minute = *v;
  if (auto v = r.integer("tokens_per_minute", 0, 1'000'000'000'000)) p.tokens_per_minute = *v;
  if (auto v = r.duration("connect_timeout")) p.connect_timeout = *v;
  if (auto v = r.duration("request_timeout")) p.request_timeout = *v;
  if (auto v = r.integer("max_retries", 0, 20)) p.max_retries = static_cast<int>(*v);
  if (auto v = r.duration("backoff_base")) p.backoff_base = *v;
  if (auto v = r.duration("backoff_max")) p.backoff_max = *v;
  if (auto v = r.integer("down_after", 1, 1000)) p.down_after = static_cast<int>(*v);
  if (auto v = r.duration("down_for")) p.down_for = *v;
  if (auto v = r.integer("max_tokens", 1, 1'000'000)) p.max_tokens = static_cast<int>(*v);
  if (auto v = r.text("ca_file")) p.ca_file = *v;
  if (auto v = r.number("temperature", 0, 2)) p.temperature = *v;
  return p;
}

void order_providers(llm_config& c, bool fallback_heuristic) {
  std::stable_sort(c.providers.begin(), c.providers.end(), [](const provider_config& a, const provider_config& b) {
    const bool ah = a.kind == provider_kind::heuristic, bh = b.kind == provider_kind::heuristic;
    if (ah != bh) return bh;  // the heuristic provider after every model
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.price_in_per_mtok + a.price_out_per_mtok < b.price_in_per_mtok + b.price_out_per_mtok;
  });
  const bool has_heuristic = std::any_of(c.providers.begin(), c.providers.end(),
                                         [](const provider_config& p) { return p.kind == provider_kind::heuristic; });
  if (fallback_heuristic && !has_heuristic) c.providers.push_back(heuristic_provider());
}

}  // namespace

std::optional<milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    long long n = 0;
    auto [p, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc() || n < 0) return std::nullopt;
    i = static_cast<std::size_t>(p - text.data());
    std::size_t j = i;
    while (j < text.size() && text[j] >= 'a' && text[j] <= 'z') ++j;
    std::string_view unit = text.substr(i, j - i);
    long long scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000 : 0;
    if (scale == 0) return std::nullopt;
    total += n * scale;
    i = j;
  }
  return milliseconds(total);
}

llm_config parse_llm_config(std::string_view toml_text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    throw config_error(fmt::format("{}:{}: {}", source_name, e.source().begin.line, e.description()));
  }
  table_reader top(source_name, root, "top level");
  top.allow_only(
      {"near_threshold", "near_min_confidence", "near_timeout", "claim_lease", "fallback_heuristic", "provider"});
  llm_config c;
  if (auto v = top.number("near_threshold", 0.01, 1.0)) c.near_threshold = *v;
  if (auto v = top.number("near_min_confidence", 0, 1.0)) c.near_min_confidence = *v;
  if (auto v = top.duration("claim_lease")) c.claim_lease = *v;
  if (auto v = top.duration("near_timeout")) c.near_timeout = *v;
  const bool fallback = top.boolean("fallback_heuristic").value_or(true);

  const toml::node* providers = root.get("provider");
  if (providers && !providers->is_array_of_tables())
    top.fail(providers, "provider must be written as [[provider]] tables");
  std::set<std::string> names;
  if (providers) {
    std::size_t index = 0;
    for (const toml::node& n : *providers->as_array()) {
      provider_config p = read_provider(source_name, *n.as_table(), index++);
      if (!names.insert(p.name).second)
        throw config_error(fmt::format("{}:{}: two providers are named '{}': names must be unique", source_name,
                                       n.source().begin.line, p.name));
      c.providers.push_back(std::move(p));
    }
  }
  if (c.providers.empty() && !fallback)
    throw config_error(fmt::format("{}: no [[provider]] and fallback_heuristic = false: nothing could answer",
                                   source_name));
  order_providers(c, fallback);
  return c;
}

llm_config load_llm_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error(fmt::format("{}: cannot read the LLM provider file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_llm_config(ss.str(), path);
}

llm_config single_provider_config(std::string base_url, std::string model, std::string api_key_env) {
  if (!valid_url(base_url))
    throw config_error(fmt::format("--llm-base-url '{}' must start with http:// or https://", base_url));
  while (base_url.size() > 8 && base_url.back() == '/') base_url.pop_back();
  llm_config c;
  provider_config p;
  p.name = "default";
  p.base_url = std::move(base_url);
  p.model = std::move(model);
  p.api_key_env = std::move(api_key_env);
  c.providers.push_back(std::move(p));
  order_providers(c, true);
  return c;
}

llm_config default_llm_config() {
  llm_config c;
  c.providers.push_back(heuristic_provider());
  return c;
}

}  // namespace celeriac::tasks::llm
