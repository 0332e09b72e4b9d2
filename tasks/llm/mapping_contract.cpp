// The request half of the contract (mapping_contract.hpp); the answer half
// is in mapping_answer.cpp.
#include "tasks/llm/mapping_contract.hpp"

#include <array>

#include <fmt/format.h>

#include "json/dump.hpp"
#include "json/value.hpp"

namespace celeriac::tasks::llm {
namespace {

constexpr std::array<std::string_view, 12> categories = {
    "Food & Drink", "Groceries", "Shopping", "Transportation", "Gas",       "Travel",
    "Entertainment", "Utilities", "Health",  "Financial",      "Services", "Other"};

std::string default_prompt() {
  std::string list;
  for (auto c : categories) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", c);
  return fmt::format(
      "You map merchant names from card transactions to a spending category and, when the merchant is a "
      "publicly traded company or a brand of one, its stock ticker. Categories: {}. The user message is a JSON "
      "object {{\"merchants\": [{{\"i\": <index>, \"name\": <merchant name>}}, ...]}}. Answer with only a JSON "
      "object {{\"mappings\": [{{\"i\": <the same index>, \"category\": <one of the categories>, \"ticker\": "
      "<ticker symbol or null>, \"confidence\": <number from 0 to 1>}}, ...]}} with exactly one entry per "
      "merchant. Use null for the ticker when the merchant is not publicly traded or you are not sure; "
      "confidence is how sure you are of the category.",
      list);
}

}  // namespace

std::span<const std::string_view> known_categories() { return categories; }

std::string merchants_content(const std::vector<merchant_item>& merchants) {
  // Written by hand rather than through json::value so the key order and
  // the separators are fixed: this text is the contract, byte for byte
  // (what Python's json.dumps(obj, separators=(",", ":")) writes).
  std::string out = "{\"merchants\":[";
  for (std::size_t k = 0; k < merchants.size(); ++k) {
    out += fmt::format("{}{{\"i\":{},\"name\":", k ? "," : "", merchants[k].i);
    json::dump_string_to(out, merchants[k].name);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string build_chat_request(const std::vector<merchant_item>& merchants, const request_options& o) {
  json::array messages;
  messages.push_back(
      json::object{{"role", "system"}, {"content", o.system_prompt.empty() ? default_prompt() : o.system_prompt}});
  messages.push_back(json::object{{"role", "user"}, {"content", merchants_content(merchants)}});
  json::object body{{"model", o.model}, {"messages", std::move(messages)}, {"temperature", o.temperature}};
  if (o.json_response_format) body.emplace_back("response_format", json::object{{"type", "json_object"}});
  if (o.max_tokens) body.emplace_back("max_tokens", *o.max_tokens);
  return json::dump(json::value(std::move(body)), json::style::compact);
}

}  // namespace celeriac::tasks::llm
