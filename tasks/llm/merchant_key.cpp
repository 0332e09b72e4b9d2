#include "tasks/llm/merchant_key.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace celeriac::tasks::llm {
namespace {

using words = std::vector<std::string>;

bool is_ascii_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool has_digit(std::string_view w) { return std::any_of(w.begin(), w.end(), is_digit); }

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

// Lower-cases ASCII letters, turns separators into spaces, keeps other
// UTF-8 as is (invalid bytes become U+FFFD), and splits into words.
// Kept punctuation: & ' . - (part of names: "AT&T", "Trader Joe's",
// "amazon.com", "7-eleven"). '*' and '#' start a reference or a store
// number, so they become word boundaries the later rules can see.
words split_words(std::string_view raw) {
  words out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(std::move(cur));
    cur.clear();
  };
  for (std::size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x80) {
      ++i;
      if (std::isalnum(c) || c == '&' || c == '\'' || c == '.' || c == '-') {
        cur.push_back(static_cast<char>(std::tolower(c)));
      } else if (c == '*' || c == '#') {
        flush();
        out.push_back(std::string(1, static_cast<char>(c)));
      } else {
        flush();  // spaces and every other punctuation separate words
      }
      continue;
    }
    std::size_t n = utf8_length(raw, i);
    if (n == 2 && c == 0xC2 && static_cast<unsigned char>(raw[i + 1]) == 0xA0) {  // no-break space
      flush();
    } else if (n == 0) {
      cur += "\xEF\xBF\xBD";
      n = 1;
    } else {
      cur.append(raw.substr(i, n));
    }
    i += n;
  }
  flush();
  // Punctuation at a word's edges is not part of the name ("inc." "-").
  for (auto& w : out) {
    if (w == "*" || w == "#") continue;
    while (!w.empty() && (w.back() == '.' || w.back() == '-' || w.back() == '\'')) w.pop_back();
    while (!w.empty() && (w.front() == '.' || w.front() == '-' || w.front() == '\'')) w.erase(0, 1);
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const std::string& w) { return w.empty(); }), out.end());
  return out;
}

// Card processors and terminals put these in front of the merchant:
// "SQ *BLUE BOTTLE", "TST* JOE'S", "PAYPAL *NETFLIX", "POS DEBIT WALMART".
constexpr std::array<std::string_view, 12> processor_prefixes = {"sq",  "tst", "paypal", "pp",  "sp",   "pos",
                                                                  "dbt", "debit", "purchase", "ach", "checkcard", "py"};

bool is_prefix_word(std::string_view w) {
  return std::find(processor_prefixes.begin(), processor_prefixes.end(), w) != processor_prefixes.end();
}

void strip_processor_prefixes(words& w) {
  // "SQ *NAME", "TST* NAME", and bare "POS"/"DEBIT"/"PURCHASE" before a name.
  while (w.size() > 1) {
    if (is_prefix_word(w[0]) && w[1] == "*") {
      w.erase(w.begin(), w.begin() + 2);
    } else if (is_prefix_word(w[0]) && w.size() > 2 &&
               (w[0] == "pos" || w[0] == "debit" || w[0] == "dbt" || w[0] == "purchase" || w[0] == "checkcard" ||
                w[0] == "ach")) {
      w.erase(w.begin());
    } else {
      break;
    }
  }
  if (!w.empty() && w[0] == "*") w.erase(w.begin());
}

// "*2K3L45" after a name is an order or trip reference, "UBER *TRIP" a
// product line: everything from a '*' that follows the name on goes.
void strip_reference(words& w) {
  auto star = std::find(w.begin(), w.end(), std::string("*"));
  if (star != w.end() && star != w.begin()) w.erase(star, w.end());
}

// "#1234", "# 1234", "#A12", "No. 12", "STORE 0042", "STORE #42", and
// standalone digit runs ("STARBUCKS 1234"), phone numbers ("866-579-7172").
void strip_numbers(words& w) {
  words out;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const std::string& x = w[i];
    const bool next_has_digit = i + 1 < w.size() && has_digit(w[i + 1]);
    if (x == "#") {
      if (next_has_digit) ++i;
      continue;
    }
    if ((x == "no" || x == "store" || x == "str" || x == "unit" || x == "loc") && i + 1 < w.size() &&
        (next_has_digit || (w[i + 1] == "#"))) {
      ++i;
      if (i < w.size() && w[i] == "#" && i + 1 < w.size() && has_digit(w[i + 1])) ++i;
      continue;
    }
    // A word that is all digits (with phone punctuation) is a number, not
    // a name, unless it is the whole name ("7-eleven" has letters).
    bool numeric = std::all_of(x.begin(), x.end(), [](char c) { return is_digit(c) || c == '-' || c == '.'; });
    if (numeric && has_digit(x)) continue;
    out.push_back(x);
  }
  w = std::move(out);
}

constexpr std::array<std::string_view, 51> state_codes = {
    "al", "ak", "az", "ar", "ca", "co", "ct", "de", "fl", "ga", "hi", "id", "il", "in", "ia", "ks", "ky",
    "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny", "nc", "nd",
    "oh", "ok", "or", "pa", "ri", "sc", "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv", "wi", "wy", "dc"};

bool is_state(std::string_view w) {
  return std::find(state_codes.begin(), state_codes.end(), w) != state_codes.end();
}

// Two-word cities that a one-word strip would cut in half.
constexpr std::array<std::string_view, 12> city_first_words = {"new", "san", "los", "las", "st", "saint",
                                                                "fort", "ft", "salt", "santa", "el", "palm"};

// "... SEATTLE WA", "... NEW YORK NY": the state code and the city word
// before it go, when a name is left.
void strip_city_state(words& w) {
  if (w.size() < 3 || !is_state(w.back())) return;
  w.pop_back();  // the state
  std::size_t city_words = 1;
  if (w.size() >= 3 &&
      std::find(city_first_words.begin(), city_first_words.end(), w[w.size() - 2]) != city_first_words.end())
    city_words = 2;
  w.erase(w.end() - static_cast<std::ptrdiff_t>(city_words), w.end());
}

std::string join(const words& w) {
  std::string out;
  for (const auto& x : w) {
    if (!out.empty()) out.push_back(' ');
    out += x;
  }
  return out;
}

// The lower-cased, trimmed, collapsed original: the answer when the rules
// leave nothing ("#1234" alone).
std::string fallback(std::string_view raw) {
  std::string out;
  bool space = false;
  for (unsigned char c : raw) {
    if (is_ascii_space(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(c < 0x80 ? std::tolower(c) : c));
  }
  return out;
}

}  // namespace

std::string normalize_merchant(std::string_view raw) {
  words w = split_words(raw);
  strip_processor_prefixes(w);
  strip_reference(w);
  strip_numbers(w);
  w.erase(std::remove(w.begin(), w.end(), std::string("#")), w.end());
  strip_city_state(w);
  std::string key = join(w);
  return key.empty() ? fallback(raw) : key;
}

}  // namespace celeriac::tasks::llm
