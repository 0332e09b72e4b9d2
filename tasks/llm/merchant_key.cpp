#include "tasks/llm/merchant_key.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "tasks/llm/utf8_text.hpp"

namespace celeriac::tasks::llm {
namespace {

using words = std::vector<std::string>;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool has_digit(std::string_view w) { return std::any_of(w.begin(), w.end(), is_digit); }

template <std::size_t N>
bool is_one_of(std::string_view w, const std::array<std::string_view, N>& list) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

// Unicode spaces a statement may carry (no-break space above all; also
// NEL, the U+2000 block, line/paragraph separators, ideographic space) and
// the invisible zero-width space and byte-order mark: word separators.
constexpr std::array<std::string_view, 21> unicode_spaces = {
    "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82", "\xE2\x80\x83",
    "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89", "\xE2\x80\x8A",
    "\xE2\x80\x8B", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80", "\xEF\xBB\xBF"};

// Characters that stay inside a word: "at&t", "trader joe's", "amazon.com",
// "7-eleven". '*' and '#' become words of their own (they start a reference
// code or a store number, which the rules below look for); every other
// ASCII character that is not a letter or digit separates words.
bool is_name_punctuation(char c) { return c == '&' || c == '\'' || c == '.' || c == '-'; }
bool is_edge_punctuation(char c) { return c == '\'' || c == '.' || c == '-'; }

// Rules 1-3 of docs/llm-normalization.md: lower-cased, split into words.
words split_words(std::string_view raw) {
  words out;
  std::string cur;
  auto flush = [&] {
    // Punctuation at a word's edges is not part of the name ("inc." "-").
    std::size_t b = 0, e = cur.size();
    while (b < e && is_edge_punctuation(cur[b])) ++b;
    while (e > b && is_edge_punctuation(cur[e - 1])) --e;
    if (e > b) out.push_back(cur.substr(b, e - b));
    cur.clear();
  };
  for (std::size_t i = 0; i < raw.size();) {
    const char c = raw[i];
    const std::size_t n = utf8_sequence_length(raw, i);
    if (n == 1) {
      if (is_ascii_alnum(c) || is_name_punctuation(c)) {
        cur.push_back(ascii_lower(c));
      } else {
        flush();
        if (c == '*' || c == '#') out.emplace_back(1, c);
      }
      ++i;
    } else if (n == 0) {
      cur += replacement_character;
      ++i;
    } else {
      const std::string_view seq = raw.substr(i, n);
      if (is_one_of(seq, unicode_spaces))
        flush();
      else
        cur += seq;
      i += n;
    }
  }
  flush();
  return out;
}

// Rule 4. Card processors and terminals put these in front of the
// merchant: "SQ *BLUE BOTTLE", "TST* JOE'S", "PAYPAL *NETFLIX".
constexpr std::array<std::string_view, 6> processor_prefixes = {"sq", "tst", "paypal", "pp", "sp", "py"};
// ... and these as a plain first word: "POS WALMART", "DEBIT SHELL OIL".
constexpr std::array<std::string_view, 6> terminal_prefixes = {"pos", "dbt", "debit", "purchase", "checkcard", "ach"};

bool is_number_word(std::string_view x);

void strip_processor_prefixes(words& w) {
  for (;;) {
    if (w.size() > 2 && is_one_of(w[0], processor_prefixes) && w[1] == "*") {
      w.erase(w.begin(), w.begin() + 2);
    } else if (w.size() > 1 && is_one_of(w[0], terminal_prefixes)) {
      // A number right after a terminal word is its date or terminal id:
      // "CHECKCARD 0412 SAFEWAY".
      const bool number_follows = w.size() > 2 && is_number_word(w[1]);
      w.erase(w.begin(), w.begin() + (number_follows ? 2 : 1));
    } else if (w.size() > 1 && w[0] == "*") {
      w.erase(w.begin());
    } else {
      return;
    }
  }
}

// Rule 5. A '*' after the name starts an order or trip reference
// ("AMZN Mktp US*2K3L45") or a product line ("UBER *TRIP"): it goes, with
// everything after it.
void strip_reference(words& w) {
  auto star = std::find(w.begin(), w.end(), "*");
  if (star != w.end() && star != w.begin()) w.erase(star, w.end());
}

// Rule 6. Store numbers anywhere: "#1234", "# 1234", "#A12", "No. 12",
// "STORE 0042", "STORE #42". A '#' not followed by a number goes alone.
constexpr std::array<std::string_view, 6> number_markers = {"no", "nbr", "store", "str", "unit", "loc"};

void strip_store_numbers(words& w) {
  words out;
  for (std::size_t i = 0; i < w.size(); ++i) {
    auto number_at = [&](std::size_t k) { return k < w.size() && has_digit(w[k]); };
    if (w[i] == "#") {
      if (number_at(i + 1)) ++i;
      continue;
    }
    if (is_one_of(w[i], number_markers)) {
      if (number_at(i + 1)) {
        ++i;
        continue;
      }
      if (i + 1 < w.size() && w[i + 1] == "#" && number_at(i + 2)) {
        i += 2;
        continue;
      }
    }
    out.push_back(std::move(w[i]));
  }
  w = std::move(out);
}

// Rule 7a. Digit runs, zip codes and phone numbers ("1234", "98101",
// "800-925-4733") at the end; a name that is only a number keeps it.
bool is_number_word(std::string_view x) {
  return has_digit(x) && std::all_of(x.begin(), x.end(), [](char c) { return is_digit(c) || c == '-' || c == '.'; });
}

bool strip_trailing_number(words& w) {
  if (w.size() < 2 || !is_number_word(w.back())) return false;
  w.pop_back();
  return true;
}

// Rule 7b. "... SEATTLE WA", "... NEW YORK NY", "... SALT LAKE CITY UT".
constexpr std::array<std::string_view, 51> state_codes = {
    "al", "ak", "az", "ar", "ca", "co", "ct", "de", "fl", "ga", "hi", "id", "il", "in", "ia", "ks", "ky",
    "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny", "nc", "nd",
    "oh", "ok", "or", "pa", "ri", "sc", "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv", "wi", "wy", "dc"};

// A city of two words begins with one of these ("NEW YORK", "ST LOUIS",
// "FORT WORTH") or ends with one of the next list ("KANSAS CITY",
// "LONG BEACH", "COLORADO SPRINGS"); three-word cities are listed whole.
constexpr std::array<std::string_view, 22> city_first_words = {
    "new",  "san",  "los",  "las", "st",  "saint", "fort",  "ft",    "santa", "el",  "palm",
    "north", "south", "east", "west", "port", "mount", "mt", "grand", "del", "des", "la"};
constexpr std::array<std::string_view, 11> city_last_words = {"city",  "beach",  "springs", "falls", "heights", "park",
                                                              "hills", "island", "rapids",  "valley", "lake"};
constexpr std::array<std::array<std::string_view, 3>, 6> three_word_cities = {{{"salt", "lake", "city"},
                                                                              {"new", "york", "city"},
                                                                              {"west", "palm", "beach"},
                                                                              {"north", "las", "vegas"},
                                                                              {"south", "san", "francisco"},
                                                                              {"palm", "beach", "gardens"}}};

// How many of the words before w[end] name the city.
std::size_t city_words_before(const words& w, std::size_t end) {
  if (end >= 3)
    for (const auto& city : three_word_cities)
      if (w[end - 3] == city[0] && w[end - 2] == city[1] && w[end - 1] == city[2]) return 3;
  if (end >= 2 && (is_one_of(w[end - 2], city_first_words) || is_one_of(w[end - 1], city_last_words))) return 2;
  return 1;
}

// The state and its city go only when a name is left: "SEATTLE WA" and
// "NEW YORK NY" alone stay as they are.
bool strip_city_state(words& w) {
  if (w.size() < 3 || !is_one_of(w.back(), state_codes)) return false;
  const std::size_t state = w.size() - 1;
  const std::size_t city = city_words_before(w, state);
  if (city >= state) return false;
  w.erase(w.end() - static_cast<std::ptrdiff_t>(city + 1), w.end());
  return true;
}

// One pass of rules 4-7.
words apply_rules(words w) {
  strip_processor_prefixes(w);
  strip_reference(w);
  strip_store_numbers(w);
  while (strip_trailing_number(w) || strip_city_state(w)) {
  }
  return w;
}

std::string join(const words& w) {
  std::string out;
  for (const auto& x : w) {
    if (!out.empty()) out.push_back(' ');
    out += x;
  }
  return out;
}

// Rule 8: the lower-cased, trimmed, collapsed original (valid UTF-8), the
// answer when the rules leave nothing ("#1234").
std::string fallback(std::string_view raw) {
  std::string out;
  bool space = false;
  for (std::size_t i = 0; i < raw.size();) {
    const std::size_t n = utf8_sequence_length(raw, i);
    const char c = raw[i];
    // Control characters separate words in split_words too.
    const bool blank = n == 1 ? (static_cast<unsigned char>(c) <= ' ' || c == 0x7F)
                              : n > 1 && is_one_of(raw.substr(i, n), unicode_spaces);
    if (blank) {
      space = !out.empty();
    } else {
      if (space) out.push_back(' ');
      space = false;
      if (n == 1)
        out.push_back(ascii_lower(c));
      else if (n == 0)
        out += replacement_character;
      else
        out += raw.substr(i, n);
    }
    i += n == 0 ? 1 : n;
  }
  return out;
}

}  // namespace

std::string normalize_merchant(std::string_view raw) {
  words w = apply_rules(split_words(raw));
  if (w.empty()) return fallback(raw);
  // Stripping can expose more to strip (in "#12 POS WALMART" the prefix
  // shows only once the store number is gone); repeating to a fixed point
  // is what makes the key idempotent.
  for (;;) {
    words again = apply_rules(w);
    if (again == w || again.empty()) return join(w);
    w = std::move(again);
  }
}

}  // namespace celeriac::tasks::llm
