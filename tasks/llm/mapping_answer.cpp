// The answer half of the contract (mapping_contract.hpp): a chat.completion
// body, checked row by row.
#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "json/dump.hpp"
#include "json/parse.hpp"
#include "json/value.hpp"
#include "tasks/llm/mapping_contract.hpp"
#include "tasks/llm/utf8_text.hpp"

namespace celeriac::tasks::llm {
namespace {

constexpr std::size_t max_category_bytes = 200;
constexpr std::size_t max_ticker_length = 10;
constexpr std::size_t excerpt_bytes = 120;

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Some local models wrap the JSON in a markdown fence, "```json\n{...}\n```"
// or on one line "```{...}```": the text between the fences is parsed.
std::string_view unfence(std::string_view s) {
  s = trim(s);
  if (s.substr(0, 3) != "```") return s;
  s.remove_prefix(3);
  // A language tag ("json") runs up to the first newline or the JSON itself.
  const auto body = s.find_first_of("\n{[");
  if (body == std::string_view::npos) return s;
  s.remove_prefix(s[body] == '\n' ? body + 1 : body);
  const auto end = s.rfind("```");
  return trim(end == std::string_view::npos ? s : s.substr(0, end));
}

// What models write for "no ticker" in a string.
constexpr std::array<std::string_view, 5> no_ticker_words = {"NONE", "NULL", "PRIVATE", "UNKNOWN", "NA"};

// Upper-cased ticker if it looks like one (^[A-Z][A-Z0-9.-]{0,9}$); a
// model's "N/A", "none", "private" or "" mean no ticker, not a broken answer.
std::optional<std::string> valid_ticker(std::string_view raw) {
  std::string t(trim(raw));
  for (char& c : t)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (t.empty() || t.size() > max_ticker_length || !(t[0] >= 'A' && t[0] <= 'Z')) return std::nullopt;
  if (std::find(no_ticker_words.begin(), no_ticker_words.end(), t) != no_ticker_words.end()) return std::nullopt;
  for (char c : t)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return std::nullopt;
  return t;
}

bool has_control_character(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

std::string kind_name(const json::value& v) {
  switch (v.type()) {
    case json::kind::null: return "null";
    case json::kind::boolean: return "a boolean";
    case json::kind::integer:
    case json::kind::number: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "something else";
}

// The category of one row, or why there is none.
std::optional<std::string> read_category(const json::value& row, std::string& why) {
  const json::value* v = row.find("category");
  if (!v) {
    why = "the answer has no category";
    return std::nullopt;
  }
  if (!v->is_string()) {
    why = fmt::format("the answer's category is {}, not a string", kind_name(*v));
    return std::nullopt;
  }
  const std::string_view cat = trim(v->as_string());
  if (cat.empty()) {
    why = "the answer's category is empty";
  } else if (cat.size() > max_category_bytes) {
    why = fmt::format("the answer's category is {} bytes long (at most {})", cat.size(), max_category_bytes);
  } else if (has_control_character(cat)) {
    why = "the answer's category contains control characters";
  } else {
    return std::string(cat);
  }
  return std::nullopt;
}

// The confidence of one row, or why there is none.
std::optional<double> read_confidence(const json::value& row, std::string& why) {
  const json::value* v = row.find("confidence");
  if (!v) {
    why = "the answer has no confidence";
    return std::nullopt;
  }
  if (!v->is_number()) {
    why = fmt::format("the answer's confidence is {}, not a number", kind_name(*v));
    return std::nullopt;
  }
  const double c = v->as_double();
  if (!std::isfinite(c) || c < 0.0 || c > 1.0) {
    why = fmt::format("confidence {} is outside 0..1", json::dump(*v));
    return std::nullopt;
  }
  return c;
}

// One row of "mappings" whose i is known: the mapping, or why it is refused.
std::optional<mapping> read_row(const json::value& row, std::string& why) {
  auto category = read_category(row, why);
  if (!category) return std::nullopt;
  const json::value* ticker = row.find("ticker");
  if (ticker && !ticker->is_null() && !ticker->is_string()) {
    why = fmt::format("the answer's ticker is {}, neither a string nor null", kind_name(*ticker));
    return std::nullopt;
  }
  auto confidence = read_confidence(row, why);
  if (!confidence) return std::nullopt;
  return mapping{std::move(*category), ticker && ticker->is_string() ? valid_ticker(ticker->as_string()) : std::nullopt,
                 *confidence};
}

// The merchant a row answers, or why it cannot be placed.
std::optional<std::size_t> row_index(const json::value& row, std::size_t merchants_sent, std::string& why) {
  if (!row.is_object()) {
    why = fmt::format("a row that is {}, not an object", kind_name(row));
    return std::nullopt;
  }
  const json::value* i = row.find("i");
  if (!i) {
    why = "a row without \"i\"";
  } else if (!i->is_integer()) {
    why = fmt::format("a row whose i is {}, not an integer", i->is_number() ? json::dump(*i) : kind_name(*i));
  } else if (i->as_integer() < 0 || static_cast<std::uint64_t>(i->as_integer()) >= merchants_sent) {
    why = merchants_sent == 0 ? fmt::format("i {} (no merchant was sent)", i->as_integer())
                              : fmt::format("i {} is outside 0..{}", i->as_integer(), merchants_sent - 1);
  } else {
    return static_cast<std::size_t>(i->as_integer());
  }
  return std::nullopt;
}

void fail_all(parsed_answer& a, std::string why) {
  a.answer_error = std::move(why);
  std::fill(a.rows.begin(), a.rows.end(), std::nullopt);
  std::fill(a.row_errors.begin(), a.row_errors.end(), a.answer_error);
}

void read_usage(const json::value& doc, parsed_answer& a) {
  const json::value* usage = doc.find("usage");
  const json::value* p = usage ? usage->find("prompt_tokens") : nullptr;
  const json::value* c = usage ? usage->find("completion_tokens") : nullptr;
  if (p && p->is_integer() && p->as_integer() >= 0 && c && c->is_integer() && c->as_integer() >= 0) {
    a.prompt_tokens = p->as_integer();
    a.completion_tokens = c->as_integer();
    a.usage_present = true;
  }
}

// The message of an error body: OpenAI's {"error": {"message": ...}}; some
// local servers write {"error": "..."}, {"detail": "..."} (FastAPI) or
// {"message": "..."}.
std::optional<std::string> error_text(const json::value& doc) {
  const json::value* e = doc.find("error");
  const json::value* m = e ? e->find("message") : nullptr;
  for (const json::value* text : {m, e, doc.find("detail"), doc.find("message")})
    if (text && text->is_string()) return printable_excerpt(text->as_string(), 300);
  return std::nullopt;
}

// Said after "content is not JSON" when the server says why it stopped.
std::string stop_note(const json::value& choice) {
  const json::value* f = choice.find("finish_reason");
  if (f && f->is_string() && f->as_string() == "length")
    return " (cut off at max_tokens, finish_reason \"length\": raise max_tokens or send smaller batches)";
  return {};
}

// The "mappings" rows of a well-formed answer, or nullptr after fail_all.
const json::array* mapping_rows(const json::value& doc, parsed_answer& a, std::optional<json::value>& inner) {
  const json::value* choices = doc.find("choices");
  if (!choices || !choices->is_array() || choices->as_array().empty()) {
    auto error = error_text(doc);
    fail_all(a, error ? "the server answered with an error: " + *error : std::string("the answer has no choices"));
    return nullptr;
  }
  const json::value& choice = choices->as_array().front();
  const json::value* message = choice.find("message");
  const json::value* content = message ? message->find("content") : nullptr;
  if (!content || !content->is_string()) {
    const json::value* refusal = message ? message->find("refusal") : nullptr;
    fail_all(a, refusal && refusal->is_string()
                    ? "the model refused: " + printable_excerpt(refusal->as_string(), excerpt_bytes)
                    : "the answer's choices[0].message.content is not a string" + stop_note(choice));
    return nullptr;
  }
  auto parsed = json::parse(unfence(content->as_string()));
  if (!parsed) {
    fail_all(a, fmt::format("the model's content is not JSON{}: {}", stop_note(choice),
                            printable_excerpt(content->as_string(), excerpt_bytes)));
    return nullptr;
  }
  inner = std::move(*parsed);
  const json::value* rows = inner->find("mappings");
  if (!rows || !rows->is_array()) {
    fail_all(a, inner->is_object() ? "the model's JSON has no \"mappings\" array"
                                   : fmt::format("the model's JSON is {}, not an object with a \"mappings\" array",
                                                 kind_name(*inner)));
    return nullptr;
  }
  return &rows->as_array();
}

}  // namespace

parsed_answer parse_chat_response(std::string_view http_body, std::size_t merchants_sent) {
  parsed_answer a;
  a.rows.resize(merchants_sent);
  a.row_errors.assign(merchants_sent, "");
  auto doc = json::parse(http_body);
  if (!doc || !doc->is_object()) {
    fail_all(a, fmt::format("the server's answer is not a JSON object: {}",
                            http_body.empty() ? std::string("(empty body)") : printable_excerpt(http_body, excerpt_bytes)));
    return a;
  }
  if (const json::value* model = doc->find("model"); model && model->is_string())
    a.model = printable_excerpt(model->as_string(), 200);
  read_usage(*doc, a);
  std::optional<json::value> inner;
  const json::array* rows = mapping_rows(*doc, a, inner);
  if (!rows) return a;

  std::vector<int> times_answered(merchants_sent, 0);
  std::vector<std::string> unplaced;  // rows no merchant can be matched to
  for (const json::value& row : *rows) {
    std::string why;
    const auto k = row_index(row, merchants_sent, why);
    if (!k) {
      unplaced.push_back(std::move(why));
      continue;
    }
    // An index answered twice is ambiguous: neither answer is trusted.
    if (++times_answered[*k] > 1) {
      a.rows[*k].reset();
      a.row_errors[*k] = "the model answered this merchant twice";
      continue;
    }
    a.rows[*k] = read_row(row, why);
    a.row_errors[*k] = std::move(why);
  }
  std::string unanswered = "no answer for this merchant";
  if (!unplaced.empty()) {
    // What the model wrote instead, to tell a model that skips rows from
    // one that numbers them wrongly.
    unanswered += fmt::format("; the answer has {} row{} that name{} no merchant sent: {}", unplaced.size(),
                              unplaced.size() == 1 ? "" : "s", unplaced.size() == 1 ? "s" : "", unplaced.front());
    if (unplaced.size() > 1) unanswered += ", ...";
  }
  for (std::size_t k = 0; k < merchants_sent; ++k)
    if (times_answered[k] == 0) a.row_errors[k] = unanswered;
  return a;
}

std::string provider_error_message(std::string_view http_body) {
  if (auto doc = json::parse(http_body); doc && doc->is_object())
    if (auto text = error_text(*doc)) return *text;
  if (trim(http_body).empty()) return "(empty body)";
  return printable_excerpt(http_body, 200);
}

}  // namespace celeriac::tasks::llm
