#include <doctest/doctest.h>

#include "tasks/llm/provider_config.hpp"

using namespace celeriac::tasks::llm;
using namespace std::chrono_literals;

TEST_CASE("a full file: fields, order by priority then price, heuristic last") {
  auto c = parse_llm_config(R"(
near_threshold = 0.9
claim_lease = "2m"

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
requests_per_minute = 500
tokens_per_minute = 200000
request_timeout = "1m30s"
backoff_base = "250ms"
max_tokens = 2000
api_key_env = "LOCAL_KEY"

[[provider]]
name = "backup"
base_url = "http://10.0.0.5/v1"
model = "m"
)",
                            "llm.toml");
  REQUIRE(c.providers.size() == 4);
  CHECK(c.providers[0].name == "cheap");
  CHECK(c.providers[1].name == "expensive");
  CHECK(c.providers[2].name == "backup");
  CHECK(c.providers[3].kind == provider_kind::heuristic);
  CHECK(c.providers[1].base_url == "https://api.example.com/v1");
  CHECK(c.providers[0].request_timeout == 90s);
  CHECK(c.providers[0].backoff_base == 250ms);
  CHECK(c.providers[0].max_tokens == std::optional<int>(2000));
  CHECK(c.providers[0].requests_per_minute == 500);
  CHECK(c.providers[0].api_key_env == "LOCAL_KEY");
  CHECK(c.providers[2].api_key_env == "OPENAI_API_KEY");
  CHECK(c.near_threshold == 0.9);
  CHECK(c.claim_lease == 120s);
}

TEST_CASE("errors name the file, the line and what to write") {
  auto fails = [](const char* text, const char* needle) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(parse_llm_config(text, "f.toml"), doctest::Contains(needle), config_error);
  };
  fails("[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\nmodel = \"m\"\nmodle = 1\n", "f.toml:5: ");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\nmodel = \"m\"\nmodle = 1\n", "unknown key 'modle'");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"ftp://a\"\nmodel = \"m\"\n", "must start with http:// or https://");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\n", "model is required");
  fails("[[provider]]\nbase_url = \"http://a\"\nmodel = \"m\"\n", "name is required");
  fails("[[provider]]\nname = \"x\"\nkind = \"bard\"\n", "kind 'bard' is unknown");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\nmodel = \"m\"\n[[provider]]\nname = \"x\"\n"
        "base_url = \"http://b\"\nmodel = \"m\"\n",
        "two providers are named 'x'");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\nmodel = \"m\"\nprice_in_per_mtok = -1\n",
        "between 0 and");
  fails("[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\nmodel = \"m\"\nrequest_timeout = \"soon\"\n",
        "must be a duration");
  fails("near_threshold = 2\n", "near_threshold must be between");
  fails("fallback_heuristic = false\n", "nothing could answer");
  fails("[[provider]\n", "f.toml:1:");
}

TEST_CASE("the heuristic fallback can be turned off; the defaults") {
  auto c = parse_llm_config("fallback_heuristic = false\n[[provider]]\nname = \"x\"\nbase_url = \"http://a\"\n"
                            "model = \"m\"\n",
                            "f");
  REQUIRE(c.providers.size() == 1);
  CHECK(c.providers[0].name == "x");
  auto d = default_llm_config();
  REQUIRE(d.providers.size() == 1);
  CHECK(d.providers[0].kind == provider_kind::heuristic);
  auto s = single_provider_config("http://127.0.0.1:9/v1/", "m", "KEY");
  REQUIRE(s.providers.size() == 2);
  CHECK(s.providers[0].base_url == "http://127.0.0.1:9/v1");
  CHECK(s.providers[0].api_key_env == "KEY");
  CHECK(s.providers[1].kind == provider_kind::heuristic);
  CHECK_THROWS_AS(single_provider_config("127.0.0.1:9", "m", "K"), config_error);
  CHECK_THROWS_WITH_AS(load_llm_config("/nonexistent/llm.toml"), doctest::Contains("cannot read"), config_error);
}

TEST_CASE("durations") {
  CHECK(parse_duration("500ms") == std::optional(500ms));
  CHECK(parse_duration("1h30m") == std::optional(std::chrono::milliseconds(5'400'000)));
  CHECK_FALSE(parse_duration("5"));
  CHECK_FALSE(parse_duration("5x"));
  CHECK_FALSE(parse_duration(""));
}
