#pragma once
// Typed, checked reads of one TOML table for provider_config.cpp: every
// complaint is a config_error "FILE:LINE: [[provider]] #2: what is wrong
// and what to write instead".

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <toml++/toml.h>

namespace celeriac::tasks::llm {

class config_reader {
public:
  // `what` names the table in messages ("top level", "[[provider]] #2").
  config_reader(std::string_view source, const toml::table& table, std::string what);

  // Throws config_error at `at`'s line (the table's own line when null).
  [[noreturn]] void fail(const toml::node* at, std::string_view message) const;

  // Every key outside `known` is an error: a typo must not pass silently.
  // `hint` may say more about a key (where it belongs, what to write).
  void allow_only(std::initializer_list<std::string_view> known,
                  std::string (*hint)(std::string_view key) = nullptr) const;

  std::optional<std::string> text(std::string_view key) const;
  std::optional<double> number(std::string_view key, double min, double max) const;
  std::optional<long> integer(std::string_view key, long min, long max) const;
  std::optional<bool> boolean(std::string_view key) const;
  // A positive duration written as a string: "500ms", "5s", "2m", "1m30s".
  std::optional<std::chrono::milliseconds> duration(std::string_view key) const;

  const toml::node* node(std::string_view key) const { return table_.get(key); }

private:
  std::string_view source_;
  const toml::table& table_;
  std::string what_;
};

}  // namespace celeriac::tasks::llm
