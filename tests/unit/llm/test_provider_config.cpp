// The --llm-config file: fields and defaults, the order providers are
// tried in, and errors that name FILE:LINE and what to write.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include <unistd.h>

#include "tasks/llm/provider_config.hpp"

using namespace celeriac::tasks::llm;
using namespace std::chrono_literals;

namespace {

void fails(const std::string& text, const char* needle) {
  CAPTURE(text);
  CHECK_THROWS_WITH_AS(parse_llm_config(text, "f.toml"), doctest::Contains(needle), config_error);
}

const std::string minimal = "[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\nmodel = \"m\"\n";

}  // namespace

TEST_CASE("every field of the documented example") {
  auto c = parse_llm_config(R"(
near_threshold = 0.8
near_min_confidence = 0.95
claim_lease = "2m"
near_timeout = "400ms"

[[provider]]
name = "openai"                 # unique
kind = "openai"
base_url = "https://api.openai.com/v1"
model = "gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"
priority = 1
price_in_per_mtok = 0.15
price_out_per_mtok = 0.60
requests_per_minute = 500
tokens_per_minute = 200000
connect_timeout = "5s"
request_timeout = "60s"
max_retries = 4
backoff_base = "500ms"
backoff_max = "30s"
down_after = 3
down_for = "60s"
max_tokens = 2000
ca_file = "/etc/ssl/my-ca.pem"
temperature = 0.0
)",
                            "llm.toml");
  CHECK(c.near_threshold == 0.8);
  CHECK(c.near_min_confidence == 0.95);
  CHECK(c.claim_lease == 120s);
  CHECK(c.near_timeout == 400ms);
  REQUIRE(c.providers.size() == 2);
  const provider_config& p = c.providers[0];
  CHECK(p.name == "openai");
  CHECK(p.kind == provider_kind::openai);
  CHECK(p.base_url == "https://api.openai.com/v1");
  CHECK(p.model == "gpt-4o-mini");
  CHECK(p.api_key_env == "OPENAI_API_KEY");
  CHECK(p.priority == 1);
  CHECK(p.price_in_per_mtok == 0.15);
  CHECK(p.price_out_per_mtok == 0.60);
  CHECK(p.requests_per_minute == 500);
  CHECK(p.tokens_per_minute == 200000);
  CHECK(p.connect_timeout == 5s);
  CHECK(p.request_timeout == 60s);
  CHECK(p.max_retries == 4);
  CHECK(p.backoff_base == 500ms);
  CHECK(p.backoff_max == 30s);
  CHECK(p.down_after == 3);
  CHECK(p.down_for == 60s);
  CHECK(p.max_tokens == std::optional<int>(2000));
  CHECK(p.ca_file == "/etc/ssl/my-ca.pem");
  CHECK(p.temperature == 0.0);
  CHECK(c.providers[1].kind == provider_kind::heuristic);
  CHECK(c.providers[1].name == "heuristic");
}

TEST_CASE("defaults") {
  auto c = parse_llm_config(minimal, "f.toml");
  CHECK(c.near_threshold == 0.85);
  CHECK(c.near_min_confidence == 0.9);
  CHECK(c.claim_lease == 300s);
  const provider_config& p = c.providers.at(0);
  CHECK(p.kind == provider_kind::openai);
  CHECK(p.api_key_env == "OPENAI_API_KEY");
  CHECK(p.priority == 100);
  CHECK(p.price_in_per_mtok == 0);
  CHECK(p.requests_per_minute == 0);
  CHECK(p.tokens_per_minute == 0);
  CHECK(p.connect_timeout == 5s);
  CHECK(p.request_timeout == 60s);
  CHECK(p.max_retries == 4);
  CHECK(p.backoff_base == 500ms);
  CHECK(p.backoff_max == 30s);
  CHECK(p.down_after == 3);
  CHECK(p.down_for == 60s);
  CHECK_FALSE(p.max_tokens);
  CHECK(p.ca_file.empty());
  CHECK(p.temperature == 0);
  auto empty = parse_llm_config("", "f.toml");
  REQUIRE(empty.providers.size() == 1);
  CHECK(empty.providers[0].kind == provider_kind::heuristic);
}

TEST_CASE("order: priority, then the cheaper, then file order; the heuristic provider last") {
  auto c = parse_llm_config(R"(
[[provider]]
name = "expensive"
base_url = "https://api.example.com/v1/"
model = "big"
priority = 1
price_in_per_mtok = 5.0
price_out_per_mtok = 15.0

[[provider]]
name = "cheap"
base_url = "http://127.0.0.1:8000/v1"
model = "small"
priority = 1
price_in_per_mtok = 0.1

[[provider]]
name = "backup"
base_url = "http://10.0.0.5/v1"
model = "m"

[[provider]]
name = "backup2"
base_url = "http://10.0.0.6/v1"
model = "m"

[[provider]]
name = "first"
base_url = "http://10.0.0.7/v1"
model = "m"
priority = -5
)",
                            "llm.toml");
  REQUIRE(c.providers.size() == 6);
  const char* order[] = {"first", "cheap", "expensive", "backup", "backup2", "heuristic"};
  for (std::size_t k = 0; k < 6; ++k) CHECK(c.providers[k].name == order[k]);
  CHECK(c.providers[2].base_url == "https://api.example.com/v1");  // trailing '/' dropped
}

TEST_CASE("a heuristic provider in the file: after every model unless given a priority") {
  auto c = parse_llm_config("[[provider]]\nname = \"offline\"\nkind = \"heuristic\"\n" + minimal, "f.toml");
  REQUIRE(c.providers.size() == 2);  // no second heuristic appended
  CHECK(c.providers[0].name == "x");
  CHECK(c.providers[1].name == "offline");
  CHECK(c.providers[1].kind == provider_kind::heuristic);
  auto first = parse_llm_config("[[provider]]\nname = \"offline\"\nkind = \"heuristic\"\npriority = 0\n" + minimal,
                                "f.toml");
  CHECK(first.providers[0].name == "offline");
}

TEST_CASE("fallback_heuristic = false: no heuristic appended") {
  auto c = parse_llm_config("fallback_heuristic = false\n" + minimal, "f");
  REQUIRE(c.providers.size() == 1);
  CHECK(c.providers[0].name == "x");
}

TEST_CASE("errors name the file, the line and what to write") {
  fails(minimal + "modle = 1\n", "f.toml:5: [[provider]] #1: unknown key 'modle': did you mean 'model'?");
  fails(minimal + "max_retry = 3\n", "did you mean 'max_retries'?");
  fails(minimal + "colour = \"red\"\n", "unknown key 'colour' (known keys: name, kind, base_url");
  fails(minimal + "api_key = \"sk-123\"\n", "the key itself never goes in this file");
  fails(minimal + "near_threshold = 0.8\n", "near_threshold is a top-level setting: move it above the first [[provider]]");
  fails(minimal + "[provider.headers]\nx = 1\n", "unknown key 'headers'");
  fails(minimal + "extra = { a = 1 }\n", "f.toml:5:");
  fails("[limits]\nrpm = 5\n", "f.toml:1: top level: unknown key 'limits'");
  fails("[[providers]]\nname = \"x\"\n", "write each provider as a [[provider]] table");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"ftp://a\"\nmodel = \"m\"\n",
        "f.toml:3: [[provider]] #1: base_url 'ftp://a' must start with http:// or https://");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"https://\"\nmodel = \"m\"\n", "has no host");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"https://api.openai.com/v1/chat/completions\"\nmodel = \"m\"\n",
        "give the API root");
  fails("[[provider]]\nname = \"x\"\nmodel = \"m\"\n", "f.toml:1: [[provider]] #1: base_url is required");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\n", "model is required");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\nmodel = \"\"\n", "f.toml:4: [[provider]] #1: model is required");
  fails("[[provider]]\nbase_url = \"http://a\"\nmodel = \"m\"\n", "name is required");
  fails("[[provider]]\nname = \"a b\"\nbase_url = \"http://a\"\nmodel = \"m\"\n", "f.toml:2: [[provider]] #1: name must be");
  fails("[[provider]]\nname = \"heuristic\"\nbase_url = \"http://a\"\nmodel = \"m\"\n", "kept for the offline provider");
  fails("[[provider]]\nname = \"x\"\nkind = \"bard\"\n", "f.toml:3: [[provider]] #1: kind 'bard' is unknown");
  fails("[[provider]]\nname = \"h\"\nkind = \"heuristic\"\nmodel = \"m\"\n", "model has no meaning for it");
  fails(minimal + "\n[[provider]]\nname = \"x\"\nbase_url = \"http://b\"\nmodel = \"m\"\n",
        "f.toml:6: [[provider]] #2: two providers are named 'x'");
  fails(minimal + "price_in_per_mtok = -1\n", "f.toml:5: [[provider]] #1: price_in_per_mtok must be between 0 and");
  fails(minimal + "price_out_per_mtok = \"cheap\"\n", "price_out_per_mtok must be a number");
  fails(minimal + "requests_per_minute = -1\n", "requests_per_minute must be between 0 and");
  fails(minimal + "max_retries = 2.5\n", "max_retries must be a whole number");
  fails(minimal + "request_timeout = \"soon\"\n", "f.toml:5: [[provider]] #1: request_timeout must be a positive duration");
  fails(minimal + "request_timeout = 60\n", "must be a positive duration in quotes");
  fails(minimal + "down_for = \"0s\"\n", "down_for must be a positive duration");
  fails(minimal + "backoff_base = \"10s\"\nbackoff_max = \"1s\"\n", "backoff_max (1000 ms) is shorter than backoff_base");
  fails(minimal + "api_key_env = \"sk-abc123\"\n", "not the key itself");
  fails(minimal + "temperature = 3\n", "temperature must be between 0 and 2");
  fails(minimal + "max_tokens = 0\n", "max_tokens must be between 1 and");
  fails("near_threshold = 2\n", "f.toml:1: top level: near_threshold must be between");
  fails("near_threshold = 0\n", "near_threshold must be above 0");
  fails("near_min_confidence = 1.5\n", "near_min_confidence must be between 0 and 1");
  fails("claim_lease = \"5 minutes\"\n", "claim_lease must be a positive duration");
  fails("fallback_heuristic = \"no\"\n", "fallback_heuristic must be true or false");
  fails("fallback_heuristic = false\n", "nothing could answer");
  fails("provider = 5\n", "provider must be written as [[provider]] tables");
  fails("[[provider]\n", "f.toml:1: not valid TOML");
  fails("a = 1\nb = \n", "f.toml:2: not valid TOML");
}

TEST_CASE("api_key_env may be empty (never send a key)") {
  auto c = parse_llm_config(minimal + "api_key_env = \"\"\n", "f");
  CHECK(c.providers[0].api_key_env.empty());
}

TEST_CASE("load_llm_config reads a file and names it in errors") {
  const std::string path = "/tmp/celeriac-test-llm-config-" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream out(path);
    out << minimal << "bogus = 1\n";
  }
  const std::string where = path + ":5: ";
  CHECK_THROWS_WITH_AS(load_llm_config(path), doctest::Contains(where.c_str()), config_error);
  {
    std::ofstream out(path);
    out << minimal;
  }
  CHECK(load_llm_config(path).providers.at(0).name == "x");
  std::remove(path.c_str());
  CHECK_THROWS_WITH_AS(load_llm_config("/nonexistent/llm.toml"),
                       doctest::Contains("/nonexistent/llm.toml: cannot read the LLM provider file"), config_error);
}

TEST_CASE("the --llm-base-url shortcut and the default") {
  auto d = default_llm_config();
  REQUIRE(d.providers.size() == 1);
  CHECK(d.providers[0].kind == provider_kind::heuristic);
  CHECK(d.providers[0].name == "heuristic");
  auto s = single_provider_config("http://127.0.0.1:9/v1/", "m", "KEY");
  REQUIRE(s.providers.size() == 2);
  CHECK(s.providers[0].name == "default");
  CHECK(s.providers[0].base_url == "http://127.0.0.1:9/v1");
  CHECK(s.providers[0].model == "m");
  CHECK(s.providers[0].api_key_env == "KEY");
  CHECK(s.providers[1].kind == provider_kind::heuristic);
  CHECK_THROWS_WITH_AS(single_provider_config("127.0.0.1:9", "m", "K"), doctest::Contains("--llm-base-url"),
                       config_error);
  CHECK_THROWS_WITH_AS(single_provider_config("http://a", "", "K"), doctest::Contains("--llm-model"), config_error);
  CHECK_THROWS_AS(single_provider_config("http://a", "m", "sk-secret"), config_error);
  try {
    single_provider_config("http://a", "m", "sk-secret");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()).find("sk-secret") == std::string::npos);  // never echo a key
  }
}

TEST_CASE("durations") {
  CHECK(parse_duration("500ms") == std::optional(500ms));
  CHECK(parse_duration("5s") == std::optional(5000ms));
  CHECK(parse_duration("2m") == std::optional(120s));
  CHECK(parse_duration("1h30m") == std::optional(std::chrono::milliseconds(5'400'000)));
  CHECK(parse_duration("1m30s") == std::optional(90s));
  CHECK(parse_duration("0s") == std::optional(0ms));
  CHECK_FALSE(parse_duration("5"));
  CHECK_FALSE(parse_duration("5x"));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("-5s"));
  CHECK_FALSE(parse_duration("+5s"));
  CHECK_FALSE(parse_duration("5 s"));
  CHECK_FALSE(parse_duration("1.5s"));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("99999999999999999999h"));
  CHECK_FALSE(parse_duration("9999999999999h"));
}
