#include "tasks/llm/mapping_contract.hpp"

#include <array>
#include <cmath>

#include <fmt/format.h>

#include "json/dump.hpp"
#include "json/parse.hpp"
#include "json/value.hpp"

namespace celeriac::tasks::llm {
namespace {

constexpr std::array<std::string_view, 12> categories = {
    "Food & Drink", "Groceries", "Shopping", "Transportation", "Gas",       "Travel",
    "Entertainment", "Utilities", "Health",  "Financial",      "Services", "Other"};

constexpr std::size_t max_category_bytes = 200;

std::string default_prompt() {
  std::string list;
  for (auto c : categories) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", c);
  return fmt::format(
      "You map merchant names from card transactions to a spending category and, when the merchant is a "
      "publicly traded company or a brand of one, its stock ticker. Categories: {}. The user message is a JSON "
      "object {{\"merchants\": [{{\"i\": <index>, \"name\": <merchant name>}}, ...]}}. Answer with only a JSON "
      "object {{\"mappings\": [{{\"i\": <the same index>, \"category\": <one of the categories>, \"ticker\": "
      "<ticker symbol or null>, \"confidence\": <number from 0 to 1>}}, ...]}} with exactly one entry per "
      "merchant.",
      list);
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

// Some local models wrap JSON in a markdown fence: ```json ... ```.
std::string_view unfence(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos || s.substr(b, 3) != "```") return s;
  s.remove_prefix(b + 3);
  const auto nl = s.find('\n');
  if (nl == std::string_view::npos) return s;
  s.remove_prefix(nl + 1);
  const auto end = s.rfind("```");
  return end == std::string_view::npos ? s : s.substr(0, end);
}

std::optional<std::string> valid_ticker(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  std::string t = trim(v.as_string());
  for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (t.empty() || t.size() > 10 || !(t[0] >= 'A' && t[0] <= 'Z')) return std::nullopt;
  for (char c : t)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return std::nullopt;
  return t;
}

// One row of "mappings": the mapping, or the reason it is refused.
std::optional<mapping> read_row(const json::value& row, std::string& why) {
  const json::value* category = row.find("category");
  if (!category || !category->is_string()) {
    why = "the answer has no category string";
    return std::nullopt;
  }
  std::string cat = trim(category->as_string());
  if (cat.empty() || cat.size() > max_category_bytes) {
    why = cat.empty() ? "the answer's category is empty" : "the answer's category is longer than 200 bytes";
    return std::nullopt;
  }
  const json::value* ticker = row.find("ticker");
  if (ticker && !ticker->is_null() && !ticker->is_string()) {
    why = "the answer's ticker is neither a string nor null";
    return std::nullopt;
  }
  const json::value* confidence = row.find("confidence");
  if (!confidence || !confidence->is_number()) {
    why = "the answer has no numeric confidence";
    return std::nullopt;
  }
  const double conf = confidence->as_double();
  if (!std::isfinite(conf) || conf < 0.0 || conf > 1.0) {
    why = fmt::format("confidence {} is outside 0..1", json::dump(*confidence));
    return std::nullopt;
  }
  return mapping{std::move(cat), ticker ? valid_ticker(*ticker) : std::nullopt, conf};
}

void fail_all(parsed_answer& a, std::string why) {
  a.answer_error = std::move(why);
  for (std::size_t i = 0; i < a.rows.size(); ++i) {
    a.rows[i].reset();
    a.row_errors[i] = a.answer_error;
  }
}

std::string shorten(std::string_view s, std::size_t max) {
  std::string out(s.substr(0, max));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

std::span<const std::string_view> known_categories() { return categories; }

std::string merchants_content(const std::vector<merchant_item>& merchants) {
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
  json::object body{{"model", o.model},
                    {"messages",
                     json::array{json::object{{"role", "system"},
                                              {"content", o.system_prompt.empty() ? default_prompt() : o.system_prompt}},
                                 json::object{{"role", "user"}, {"content", merchants_content(merchants)}}}},
                    {"temperature", o.temperature}};
  if (o.json_response_format) body.emplace_back("response_format", json::object{{"type", "json_object"}});
  if (o.max_tokens) body.emplace_back("max_tokens", *o.max_tokens);
  return json::dump(json::value(std::move(body)), json::style::compact);
}

parsed_answer parse_chat_response(std::string_view http_body, std::size_t merchants_sent) {
  parsed_answer a;
  a.rows.resize(merchants_sent);
  a.row_errors.assign(merchants_sent, "");
  auto doc = json::parse(http_body);
  if (!doc || !doc->is_object()) {
    fail_all(a, fmt::format("the server's answer is not JSON: {}", shorten(http_body, 120)));
    return a;
  }
  if (const json::value* model = doc->find("model"); model && model->is_string()) a.model = model->as_string();
  if (const json::value* usage = doc->find("usage"); usage && usage->is_object()) {
    const json::value* p = usage->find("prompt_tokens");
    const json::value* c = usage->find("completion_tokens");
    if (p && p->is_integer() && c && c->is_integer()) {
      a.prompt_tokens = p->as_integer();
      a.completion_tokens = c->as_integer();
      a.usage_present = true;
    }
  }
  const json::value* choices = doc->find("choices");
  if (!choices || !choices->is_array() || choices->as_array().empty()) {
    fail_all(a, "the answer has no choices");
    return a;
  }
  const json::value* message = choices->as_array().front().find("message");
  const json::value* content = message ? message->find("content") : nullptr;
  if (!content || !content->is_string()) {
    fail_all(a, "the answer's choices[0].message.content is not a string");
    return a;
  }
  auto inner = json::parse(unfence(content->as_string()));
  if (!inner || !inner->is_object()) {
    fail_all(a, fmt::format("the model's content is not JSON: {}", shorten(content->as_string(), 120)));
    return a;
  }
  const json::value* mappings = inner->find("mappings");
  if (!mappings || !mappings->is_array()) {
    fail_all(a, "the model's JSON has no \"mappings\" array");
    return a;
  }
  std::vector<int> seen(merchants_sent, 0);
  for (const json::value& row : mappings->as_array()) {
    const json::value* i = row.find("i");
    if (!i || !i->is_integer() || i->as_integer() < 0 ||
        static_cast<std::uint64_t>(i->as_integer()) >= merchants_sent)
      continue;  // cannot be tied to a merchant; its merchant shows as unanswered
    const auto k = static_cast<std::size_t>(i->as_integer());
    if (++seen[k] > 1) {
      a.rows[k].reset();
      a.row_errors[k] = "the model answered this merchant twice";
      continue;
    }
    std::string why;
    a.rows[k] = read_row(row, why);
    a.row_errors[k] = std::move(why);
  }
  for (std::size_t k = 0; k < merchants_sent; ++k)
    if (!seen[k]) a.row_errors[k] = "no answer for this merchant";
  return a;
}

std::string provider_error_message(std::string_view http_body) {
  if (auto doc = json::parse(http_body); doc && doc->is_object()) {
    if (const json::value* e = doc->find("error")) {
      if (const json::value* m = e->find("message"); m && m->is_string()) return shorten(m->as_string(), 300);
      if (e->is_string()) return shorten(e->as_string(), 300);
    }
  }
  return shorten(http_body, 200);
}

}  // namespace celeriac::tasks::llm
