#include "tasks/llm/heuristic.hpp"

#include <array>

namespace celeriac::tasks::llm {
namespace {

struct known_merchant {
  std::string_view name;  // matched as whole words
  std::string_view category;
  std::string_view ticker;  // empty: none
};

// Well-known US merchants as they appear on card statements, normalized.
constexpr std::array<known_merchant, 94> table = {{
    {"starbucks", "Food & Drink", "SBUX"},      {"mcdonald's", "Food & Drink", "MCD"},
    {"mcdonalds", "Food & Drink", "MCD"},       {"chipotle", "Food & Drink", "CMG"},
    {"domino's", "Food & Drink", "DPZ"},        {"dominos", "Food & Drink", "DPZ"},
    {"wendy's", "Food & Drink", "WEN"},         {"taco bell", "Food & Drink", "YUM"},
    {"kfc", "Food & Drink", "YUM"},             {"pizza hut", "Food & Drink", "YUM"},
    {"burger king", "Food & Drink", "QSR"},     {"tim hortons", "Food & Drink", "QSR"},
    {"dunkin", "Food & Drink", ""},             {"subway", "Food & Drink", ""},
    {"chick-fil-a", "Food & Drink", ""},        {"panera", "Food & Drink", ""},
    {"doordash", "Food & Drink", "DASH"},       {"grubhub", "Food & Drink", ""},
    {"uber eats", "Food & Drink", "UBER"},      {"shake shack", "Food & Drink", "SHAK"},
    {"walmart", "Groceries", "WMT"},            {"wal-mart", "Groceries", "WMT"},
    {"wm supercenter", "Groceries", "WMT"},     {"costco", "Groceries", "COST"},
    {"kroger", "Groceries", "KR"},              {"whole foods", "Groceries", "AMZN"},
    {"trader joe's", "Groceries", ""},          {"safeway", "Groceries", "ACI"},
    {"albertsons", "Groceries", "ACI"},         {"publix", "Groceries", ""},
    {"aldi", "Groceries", ""},                  {"sprouts", "Groceries", "SFM"},
    {"instacart", "Groceries", "CART"},         {"sam's club", "Groceries", "WMT"},
    {"amazon", "Shopping", "AMZN"},             {"amzn", "Shopping", "AMZN"},
    {"amazon.com", "Shopping", "AMZN"},         {"target", "Shopping", "TGT"},
    {"best buy", "Shopping", "BBY"},            {"home depot", "Shopping", "HD"},
    {"lowe's", "Shopping", "LOW"},              {"lowes", "Shopping", "LOW"},
    {"apple.com", "Shopping", "AAPL"},          {"apple store", "Shopping", "AAPL"},
    {"ebay", "Shopping", "EBAY"},               {"etsy", "Shopping", "ETSY"},
    {"ikea", "Shopping", ""},                   {"macy's", "Shopping", "M"},
    {"nordstrom", "Shopping", "JWN"},           {"tj maxx", "Shopping", "TJX"},
    {"nike", "Shopping", "NKE"},                {"wayfair", "Shopping", "W"},
    {"uber", "Transportation", "UBER"},         {"lyft", "Transportation", "LYFT"},
    {"hertz", "Transportation", "HTZ"},         {"avis", "Transportation", "CAR"},
    {"amtrak", "Transportation", ""},           {"shell", "Gas", "SHEL"},
    {"exxon", "Gas", "XOM"},                    {"exxonmobil", "Gas", "XOM"},
    {"mobil", "Gas", "XOM"},                    {"chevron", "Gas", "CVX"},
    {"bp", "Gas", "BP"},                        {"marathon", "Gas", "MPC"},
    {"valero", "Gas", "VLO"},                   {"7-eleven", "Gas", ""},
    {"delta air", "Travel", "DAL"},             {"delta air lines", "Travel", "DAL"},
    {"united airlines", "Travel", "UAL"},       {"american airlines", "Travel", "AAL"},
    {"southwest", "Travel", "LUV"},             {"jetblue", "Travel", "JBLU"},
    {"marriott", "Travel", "MAR"},              {"hilton", "Travel", "HLT"},
    {"hyatt", "Travel", "H"},                   {"airbnb", "Travel", "ABNB"},
    {"expedia", "Travel", "EXPE"},              {"booking.com", "Travel", "BKNG"},
    {"netflix", "Entertainment", "NFLX"},       {"netflix.com", "Entertainment", "NFLX"},
    {"spotify", "Entertainment", "SPOT"},       {"hulu", "Entertainment", "DIS"},
    {"disney", "Entertainment", "DIS"},         {"amc", "Entertainment", "AMC"},
    {"comcast", "Utilities", "CMCSA"},          {"xfinity", "Utilities", "CMCSA"},
    {"verizon", "Utilities", "VZ"},             {"at&t", "Utilities", "T"},
    {"t-mobile", "Utilities", "TMUS"},          {"cvs", "Health", "CVS"},
    {"walgreens", "Health", "WBA"},             {"rite aid", "Health", ""},
    {"paypal", "Financial", "PYPL"},            {"venmo", "Financial", "PYPL"},
}};

struct keyword_rule {
  std::string_view word;
  std::string_view category;
};

constexpr std::array<keyword_rule, 40> keywords = {{
    {"coffee", "Food & Drink"},   {"cafe", "Food & Drink"},       {"café", "Food & Drink"},
    {"restaurant", "Food & Drink"}, {"pizza", "Food & Drink"},    {"grill", "Food & Drink"},
    {"bar", "Food & Drink"},      {"bakery", "Food & Drink"},     {"burger", "Food & Drink"},
    {"sushi", "Food & Drink"},    {"taqueria", "Food & Drink"},   {"diner", "Food & Drink"},
    {"grocery", "Groceries"},     {"market", "Groceries"},        {"foods", "Groceries"},
    {"supermarket", "Groceries"}, {"gas", "Gas"},                 {"fuel", "Gas"},
    {"petro", "Gas"},             {"pharmacy", "Health"},         {"clinic", "Health"},
    {"dental", "Health"},         {"medical", "Health"},          {"airline", "Travel"},
    {"airlines", "Travel"},       {"hotel", "Travel"},            {"inn", "Travel"},
    {"resort", "Travel"},         {"taxi", "Transportation"},     {"parking", "Transportation"},
    {"transit", "Transportation"}, {"electric", "Utilities"},     {"water", "Utilities"},
    {"internet", "Utilities"},    {"wireless", "Utilities"},      {"insurance", "Financial"},
    {"bank", "Financial"},        {"cinema", "Entertainment"},    {"theater", "Entertainment"},
    {"store", "Shopping"},
}};

// True when `words` occurs in `key` as whole words.
bool has_words(std::string_view key, std::string_view words) {
  for (std::size_t at = key.find(words); at != std::string_view::npos; at = key.find(words, at + 1)) {
    const bool starts = at == 0 || key[at - 1] == ' ';
    const std::size_t end = at + words.size();
    const bool ends = end == key.size() || key[end] == ' ';
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace

heuristic_answer heuristic_map(std::string_view key) {
  // The longest matching name wins ("delta air lines" over "delta air").
  const known_merchant* best = nullptr;
  for (const auto& m : table)
    if (has_words(key, m.name) && (!best || m.name.size() > best->name.size())) best = &m;
  if (best) {
    heuristic_answer a{std::string(best->category), std::nullopt, 0.75};
    if (!best->ticker.empty()) a.ticker = std::string(best->ticker);
    return a;
  }
  for (const auto& k : keywords)
    if (has_words(key, k.word)) return {std::string(k.category), std::nullopt, 0.4};
  return {"Other", std::nullopt, 0.1};
}

}  // namespace celeriac::tasks::llm
