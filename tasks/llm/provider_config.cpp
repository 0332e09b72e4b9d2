#include "tasks/llm/provider_config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "tasks/llm/config_reader.hpp"

namespace celeriac::tasks::llm {
namespace {

using std::chrono::milliseconds;

// A heuristic provider without a priority of its own goes after every
// model: it always answers, so nothing after it would ever be asked.
constexpr int heuristic_default_priority = std::numeric_limits<int>::max();
constexpr long max_priority = 1'000'000;
constexpr std::string_view heuristic_name = "heuristic";

provider_config heuristic_provider() {
  provider_config p;
  p.name = heuristic_name;
  p.kind = provider_kind::heuristic;
  p.priority = heuristic_default_priority;
  p.api_key_env.clear();
  return p;
}

bool valid_name(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

bool valid_env_name(std::string_view n) {
  return !n.empty() && !(n[0] >= '0' && n[0] <= '9') && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// What is wrong with a base URL, or "" when it is fine.
std::string url_problem(std::string_view u) {
  std::string_view rest;
  for (std::string_view scheme : {"http://", "https://"})
    if (u.substr(0, scheme.size()) == scheme) rest = u.substr(scheme.size());
  if (rest.data() == nullptr) return "must start with http:// or https://";
  if (rest.empty() || rest[0] == '/') return "has no host after the scheme";
  if (rest.find_first_of(" \t\r\n") != std::string_view::npos) return "contains whitespace";
  std::string_view path = rest.substr(std::min(rest.size(), rest.find('/')));
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.size() >= 17 && path.substr(path.size() - 17) == "/chat/completions")
    return "ends in /chat/completions: give the API root (e.g. https://api.openai.com/v1), the path is added";
  return {};
}

std::string without_trailing_slashes(std::string url) {
  while (url.size() > 1 && url.back() == '/' && url[url.size() - 2] != '/') url.pop_back();
  return url;
}

// More to say about an unknown key than "did you mean".
std::string provider_key_hint(std::string_view key) {
  if (key == "api_key" || key == "key" || key == "token")
    return "the key itself never goes in this file: export it in an environment variable and name that "
           "variable with api_key_env = \"OPENAI_API_KEY\"";
  if (key == "near_threshold" || key == "near_min_confidence" || key == "near_timeout" || key == "claim_lease" ||
      key == "fallback_heuristic")
    return fmt::format("{} is a top-level setting: move it above the first [[provider]]", key);
  return {};
}

std::string top_level_hint(std::string_view key) {
  if (key == "providers") return "write each provider as a [[provider]] table";
  return provider_key_hint(key);
}

void read_openai_fields(const config_reader& r, provider_config& p) {
  auto url = r.text("base_url");
  if (!url) r.fail(nullptr, "base_url is required for kind \"openai\", e.g. base_url = \"https://api.openai.com/v1\"");
  if (auto problem = url_problem(*url); !problem.empty())
    r.fail(r.node("base_url"), fmt::format("base_url '{}' {}", *url, problem));
  p.base_url = without_trailing_slashes(*url);
  auto model = r.text("model");
  if (!model || model->empty()) r.fail(model ? r.node("model") : nullptr, "model is required, e.g. model = \"gpt-4o-mini\"");
  p.model = *model;
  if (auto v = r.text("api_key_env")) {
    if (!v->empty() && !valid_env_name(*v))
      r.fail(r.node("api_key_env"),
             "api_key_env names the environment variable that holds the key (letters, digits and '_', e.g. "
             "\"OPENAI_API_KEY\"), it is not the key itself");
    p.api_key_env = *v;
  }
  if (auto v = r.number("price_in_per_mtok", 0, 1e6)) p.price_in_per_mtok = *v;
  if (auto v = r.number("price_out_per_mtok", 0, 1e6)) p.price_out_per_mtok = *v;
  if (auto v = r.integer("requests_per_minute", 0, 100'000'000)) p.requests_per_minute = *v;
  if (auto v = r.integer("tokens_per_minute", 0, 1'000'000'000'000)) p.tokens_per_minute = *v;
  if (auto v = r.duration("connect_timeout")) p.connect_timeout = *v;
  if (auto v = r.duration("request_timeout")) p.request_timeout = *v;
  if (auto v = r.integer("max_retries", 0, 20)) p.max_retries = static_cast<int>(*v);
  if (auto v = r.duration("backoff_base")) p.backoff_base = *v;
  if (auto v = r.duration("backoff_max")) p.backoff_max = *v;
  if (p.backoff_max < p.backoff_base)
    r.fail(r.node("backoff_max") ? r.node("backoff_max") : r.node("backoff_base"),
           fmt::format("backoff_max ({} ms) is shorter than backoff_base ({} ms)", p.backoff_max.count(),
                       p.backoff_base.count()));
  if (auto v = r.integer("down_after", 1, 1000)) p.down_after = static_cast<int>(*v);
  if (auto v = r.duration("down_for")) p.down_for = *v;
  if (auto v = r.integer("max_tokens", 1, 1'000'000)) p.max_tokens = static_cast<int>(*v);
  if (auto v = r.text("ca_file")) p.ca_file = *v;
  if (auto v = r.number("temperature", 0, 2)) p.temperature = *v;
}

provider_config read_provider(std::string_view source, const toml::table& t, std::size_t index) {
  config_reader r(source, t, fmt::format("[[provider]] #{}", index + 1));
  provider_config p;
  if (auto kind = r.text("kind")) {
    if (*kind == "openai")
      p.kind = provider_kind::openai;
    else if (*kind == "heuristic")
      p.kind = provider_kind::heuristic;
    else
      r.fail(r.node("kind"),
             fmt::format("kind '{}' is unknown: use \"openai\" (any OpenAI-compatible chat-completions server) or "
                         "\"heuristic\" (the offline table)",
                         *kind));
  }
  if (p.kind == provider_kind::openai)
    r.allow_only({"name", "kind", "base_url", "model", "api_key_env", "priority", "price_in_per_mtok",
                  "price_out_per_mtok", "requests_per_minute", "tokens_per_minute", "connect_timeout",
                  "request_timeout", "max_retries", "backoff_base", "backoff_max", "down_after", "down_for",
                  "max_tokens", "ca_file", "temperature"},
                 provider_key_hint);
  else
    r.allow_only({"name", "kind", "priority"}, [](std::string_view key) {
      return fmt::format("kind \"heuristic\" takes only name and priority; {} has no meaning for it", key);
    });
  auto name = r.text("name");
  if (!name) r.fail(nullptr, "name is required, e.g. name = \"openai\"");
  if (!valid_name(*name)) r.fail(r.node("name"), "name must be 1-64 letters, digits, '_', '.' or '-'");
  if (*name == heuristic_name && p.kind != provider_kind::heuristic)
    r.fail(r.node("name"), "the name \"heuristic\" is kept for the offline provider: choose another name");
  p.name = *name;
  if (p.kind == provider_kind::openai) {
    read_openai_fields(r, p);
  } else {
    p = heuristic_provider();
    p.name = *name;
  }
  if (auto v = r.integer("priority", -max_priority, max_priority)) p.priority = static_cast<int>(*v);
  return p;
}

// Priority, then the cheaper (price in + price out), then file order.
void order_providers(llm_config& c, bool fallback_heuristic) {
  std::stable_sort(c.providers.begin(), c.providers.end(), [](const provider_config& a, const provider_config& b) {
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
  constexpr long long max_ms = 100LL * 365 * 86'400'000;  // a century is plenty
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!(text[i] >= '0' && text[i] <= '9')) return std::nullopt;
    long long n = 0;
    auto [p, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc()) return std::nullopt;
    i = static_cast<std::size_t>(p - text.data());
    std::size_t j = i;
    while (j < text.size() && text[j] >= 'a' && text[j] <= 'z') ++j;
    const std::string_view unit = text.substr(i, j - i);
    const long long scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000 : 0;
    if (scale == 0 || n > max_ms / scale || total + n * scale > max_ms) return std::nullopt;
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
    throw config_error(fmt::format("{}:{}: not valid TOML: {}", source_name, e.source().begin.line, e.description()));
  }
  config_reader top(source_name, root, "top level");
  top.allow_only({"near_threshold", "near_min_confidence", "near_timeout", "claim_lease", "fallback_heuristic",
                  "provider"},
                 top_level_hint);
  llm_config c;
  if (auto v = top.number("near_threshold", 0, 1.0)) {
    if (*v <= 0) top.fail(top.node("near_threshold"), "near_threshold must be above 0 (and at most 1), e.g. 0.85");
    c.near_threshold = *v;
  }
  if (auto v = top.number("near_min_confidence", 0, 1.0)) c.near_min_confidence = *v;
  if (auto v = top.duration("claim_lease")) c.claim_lease = *v;
  if (auto v = top.duration("near_timeout")) c.near_timeout = *v;
  const bool fallback = top.boolean("fallback_heuristic").value_or(true);

  const toml::node* providers = root.get("provider");
  if (providers && !providers->is_array_of_tables())
    top.fail(providers, "provider must be written as [[provider]] tables");
  std::set<std::string, std::less<>> names;
  if (providers) {
    std::size_t index = 0;
    for (const toml::node& n : *providers->as_array()) {
      provider_config p = read_provider(source_name, *n.as_table(), index++);
      if (!names.insert(p.name).second)
        throw config_error(fmt::format("{}:{}: [[provider]] #{}: two providers are named '{}': names must be unique",
                                       source_name, n.source().begin.line, index, p.name));
      c.providers.push_back(std::move(p));
    }
  }
  if (c.providers.empty() && !fallback)
    throw config_error(fmt::format(
        "{}: no [[provider]] and fallback_heuristic = false: nothing could answer; add a [[provider]] or remove "
        "fallback_heuristic",
        source_name));
  order_providers(c, fallback);
  return c;
}

llm_config load_llm_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw config_error(fmt::format("{}: cannot read the LLM provider file ({}); check the --llm-config path", path,
                                   std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_llm_config(ss.str(), path);
}

llm_config single_provider_config(std::string base_url, std::string model, std::string api_key_env) {
  if (auto problem = url_problem(base_url); !problem.empty())
    throw config_error(fmt::format("--llm-base-url '{}' {}", base_url, problem));
  if (model.empty()) throw config_error("--llm-model is empty: name the model to ask, e.g. --llm-model gpt-4o-mini");
  if (!api_key_env.empty() && !valid_env_name(api_key_env))
    throw config_error(
        "--llm-api-key-env must name an environment variable (letters, digits and '_', e.g. OPENAI_API_KEY), not "
        "hold the key itself");
  llm_config c;
  provider_config p;
  p.name = "default";
  p.base_url = without_trailing_slashes(std::move(base_url));
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
