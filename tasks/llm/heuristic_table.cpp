#include "tasks/llm/heuristic_table.hpp"

namespace celeriac::tasks::llm {
namespace {

// Common words that are also brands ("shell", "target", "subway") count
// only at the start of the key, where the merchant's name stands.
constexpr match_at start = match_at::key_start;

constexpr std::string_view food = "Food & Drink", groceries = "Groceries", shopping = "Shopping",
                           transport = "Transportation", gas = "Gas", travel = "Travel", fun = "Entertainment",
                           utilities = "Utilities", health = "Health", financial = "Financial", services = "Services";

constexpr known_merchant merchants[] = {
    // Food & Drink
    {"starbucks", food, "SBUX"}, {"mcdonald's", food, "MCD"}, {"mcdonalds", food, "MCD"},
    {"chipotle", food, "CMG"}, {"domino's", food, "DPZ"}, {"dominos", food, "DPZ"},
    {"wendy's", food, "WEN"}, {"wendys", food, "WEN"}, {"taco bell", food, "YUM"},
    {"kfc", food, "YUM"}, {"pizza hut", food, "YUM"}, {"burger king", food, "QSR"},
    {"tim hortons", food, "QSR"}, {"popeyes", food, "QSR"}, {"dunkin", food, ""},
    {"subway", food, "", start}, {"chick-fil-a", food, ""},
    {"panera", food, ""}, {"doordash", food, "DASH"}, {"grubhub", food, ""},
    {"uber eats", food, "UBER"}, {"postmates", food, "UBER"}, {"shake shack", food, "SHAK"},
    {"jack in the box", food, "JACK"}, {"papa john's", food, "PZZA"}, {"papa johns", food, "PZZA"},
    {"sonic", food, "", start}, {"arby's", food, ""}, {"dairy queen", food, "BRK.B"},
    {"olive garden", food, "DRI"}, {"longhorn steakhouse", food, "DRI"}, {"texas roadhouse", food, "TXRH"},
    {"cheesecake factory", food, "CAKE"}, {"applebee's", food, "DIN"}, {"ihop", food, "DIN"},
    {"denny's", food, "DENN"}, {"cracker barrel", food, "CBRL"}, {"wingstop", food, "WING"},
    {"jimmy john's", food, ""}, {"five guys", food, ""}, {"in-n-out", food, ""},
    {"panda express", food, ""}, {"sweetgreen", food, "SG"}, {"dutch bros", food, "BROS"},
    {"krispy kreme", food, "DNUT"}, {"peet's", food, ""}, {"red robin", food, "RRGB"},
    {"buffalo wild wings", food, ""}, {"el pollo loco", food, "LOCO"}, {"cava", food, "CAVA", start},
    // Groceries
    {"walmart", groceries, "WMT"}, {"wal-mart", groceries, "WMT"}, {"wm supercenter", groceries, "WMT"},
    {"costco", groceries, "COST"}, {"kroger", groceries, "KR"}, {"whole foods", groceries, "AMZN"},
    {"wholefds", groceries, "AMZN"}, {"trader joe's", groceries, ""}, {"safeway", groceries, "ACI"},
    {"albertsons", groceries, "ACI"}, {"vons", groceries, "ACI"}, {"jewel-osco", groceries, "ACI"},
    {"publix", groceries, ""}, {"aldi", groceries, ""}, {"sprouts", groceries, "SFM"},
    {"instacart", groceries, "CART"}, {"sam's club", groceries, "WMT"}, {"sams club", groceries, "WMT"},
    {"h-e-b", groceries, ""}, {"heb", groceries, "", start}, {"wegmans", groceries, ""},
    {"food lion", groceries, ""}, {"stop & shop", groceries, ""}, {"giant eagle", groceries, ""},
    {"meijer", groceries, ""}, {"hy-vee", groceries, ""}, {"winco", groceries, ""},
    {"grocery outlet", groceries, "GO"}, {"bj's wholesale", groceries, "BJ"}, {"harris teeter", groceries, "KR"},
    {"ralphs", groceries, "KR"}, {"fred meyer", groceries, "KR"}, {"king soopers", groceries, "KR"},
    {"shoprite", groceries, ""},
    // Shopping
    {"amazon", shopping, "AMZN"}, {"amzn", shopping, "AMZN"}, {"amazon.com", shopping, "AMZN"},
    {"target", shopping, "TGT", start}, {"target.com", shopping, "TGT"}, {"walmart.com", shopping, "WMT"},
    {"best buy", shopping, "BBY"}, {"home depot", shopping, "HD"}, {"lowe's", shopping, "LOW"},
    {"lowes", shopping, "LOW"}, {"apple.com", shopping, "AAPL"}, {"apple store", shopping, "AAPL"},
    {"apple", shopping, "AAPL", start}, {"ebay", shopping, "EBAY"}, {"etsy", shopping, "ETSY"},
    {"ikea", shopping, ""}, {"macy's", shopping, "M"}, {"macys", shopping, "M"},
    {"nordstrom", shopping, "JWN"}, {"tj maxx", shopping, "TJX"}, {"tjmaxx", shopping, "TJX"},
    {"marshalls", shopping, "TJX"}, {"homegoods", shopping, "TJX"}, {"ross stores", shopping, "ROST"},
    {"nike", shopping, "NKE"}, {"wayfair", shopping, "W"}, {"kohl's", shopping, "KSS"},
    {"kohls", shopping, "KSS"}, {"dollar tree", shopping, "DLTR"}, {"dollar general", shopping, "DG"},
    {"family dollar", shopping, "DLTR"}, {"gap", shopping, "GAP", start}, {"old navy", shopping, "GAP"},
    {"ulta", shopping, "ULTA"}, {"sephora", shopping, ""}, {"dick's sporting goods", shopping, "DKS"},
    {"michaels", shopping, "", start}, {"hobby lobby", shopping, ""}, {"petsmart", shopping, ""},
    {"petco", shopping, "WOOF"}, {"chewy", shopping, "CHWY"}, {"autozone", shopping, "AZO"},
    {"o'reilly auto", shopping, "ORLY"}, {"advance auto parts", shopping, "AAP"}, {"tractor supply", shopping, "TSCO"},
    {"staples", shopping, "", start}, {"office depot", shopping, "ODP"}, {"gamestop", shopping, "GME"},
    {"barnes & noble", shopping, ""}, {"williams-sonoma", shopping, "WSM"}, {"pottery barn", shopping, "WSM"},
    {"bath & body works", shopping, "BBWI"}, {"foot locker", shopping, "FL"}, {"burlington", shopping, "BURL", start},
    {"five below", shopping, "FIVE"}, {"temu", shopping, "PDD"}, {"aliexpress", shopping, "BABA"},
    // Transportation
    {"uber", transport, "UBER"}, {"lyft", transport, "LYFT"}, {"hertz", transport, "HTZ"},
    {"avis", transport, "CAR"}, {"budget rent a car", transport, "CAR"}, {"enterprise rent-a-car", transport, ""},
    {"amtrak", transport, ""}, {"greyhound", transport, ""}, {"e-zpass", transport, ""},
    {"ezpass", transport, ""}, {"sunpass", transport, ""}, {"parkmobile", transport, ""},
    {"spothero", transport, ""}, {"turo", transport, "", start},
    // Gas
    {"shell", gas, "SHEL", start}, {"exxon", gas, "XOM"}, {"exxonmobil", gas, "XOM"},
    {"mobil", gas, "XOM"}, {"chevron", gas, "CVX"}, {"texaco", gas, "CVX"},
    {"bp", gas, "BP", start}, {"marathon", gas, "MPC", start}, {"valero", gas, "VLO"},
    {"7-eleven", gas, ""}, {"sunoco", gas, "SUN"}, {"citgo", gas, ""},
    {"76", gas, "PSX", start}, {"conoco", gas, "PSX"}, {"wawa", gas, ""},
    {"sheetz", gas, ""}, {"circle k", gas, ""}, {"quiktrip", gas, ""},
    {"racetrac", gas, ""}, {"casey's", gas, "CASY"}, {"murphy usa", gas, "MUSA"},
    {"arco", gas, "", start}, {"speedway", gas, "", start}, {"buc-ee's", gas, ""},
    // Travel
    {"delta air", travel, "DAL"}, {"delta air lines", travel, "DAL"}, {"united airlines", travel, "UAL"},
    {"american airlines", travel, "AAL"}, {"southwest airlines", travel, "LUV"}, {"southwest air", travel, "LUV"},
    {"jetblue", travel, "JBLU"}, {"alaska air", travel, "ALK"}, {"alaska airlines", travel, "ALK"},
    {"frontier airlines", travel, "ULCC"}, {"marriott", travel, "MAR"}, {"hilton", travel, "HLT"},
    {"hampton inn", travel, "HLT"}, {"hyatt", travel, "H"}, {"holiday inn", travel, "IHG"},
    {"airbnb", travel, "ABNB"}, {"expedia", travel, "EXPE"}, {"hotels.com", travel, "EXPE"},
    {"vrbo", travel, "EXPE"}, {"booking.com", travel, "BKNG"}, {"priceline", travel, "BKNG"},
    {"wyndham", travel, "WH"}, {"best western", travel, ""}, {"tripadvisor", travel, "TRIP"},
    {"royal caribbean", travel, "RCL"}, {"carnival cruise", travel, "CCL"},
    // Entertainment
    {"netflix", fun, "NFLX"}, {"netflix.com", fun, "NFLX"}, {"spotify", fun, "SPOT"},
    {"hulu", fun, "DIS"}, {"disney", fun, "DIS"}, {"amc", fun, "AMC", start},
    {"regal", fun, "", start}, {"cinemark", fun, "CNK"}, {"hbo max", fun, "WBD"},
    {"youtube", fun, "GOOGL"}, {"steam", fun, "", start}, {"playstation", fun, "SONY"},
    {"xbox", fun, "MSFT"}, {"ticketmaster", fun, "LYV"}, {"live nation", fun, "LYV"},
    {"stubhub", fun, ""}, {"audible", fun, "AMZN"}, {"peacock", fun, "CMCSA"},
    {"paramount", fun, "PARA", start}, {"roblox", fun, "RBLX"}, {"dave & buster's", fun, "PLAY"},
    {"siriusxm", fun, "SIRI"}, {"sirius xm", fun, "SIRI"},
    // Utilities
    {"comcast", utilities, "CMCSA"}, {"xfinity", utilities, "CMCSA"}, {"verizon", utilities, "VZ"},
    {"at&t", utilities, "T"}, {"t-mobile", utilities, "TMUS"}, {"spectrum", utilities, "CHTR", start},
    {"cox communications", utilities, ""}, {"pg&e", utilities, "PCG"}, {"con edison", utilities, "ED"},
    {"duke energy", utilities, "DUK"}, {"dominion energy", utilities, "D"}, {"georgia power", utilities, "SO"},
    {"xcel energy", utilities, "XEL"}, {"dte energy", utilities, "DTE"}, {"national grid", utilities, "NGG"},
    {"cricket wireless", utilities, "T"},
    // Health
    {"cvs", health, "CVS"}, {"walgreens", health, "WBA"}, {"rite aid", health, ""},
    {"quest diagnostics", health, "DGX"}, {"labcorp", health, "LH"}, {"goodrx", health, "GDRX"},
    {"planet fitness", health, "PLNT"}, {"24 hour fitness", health, ""}, {"la fitness", health, ""},
    {"peloton", health, "PTON"}, {"teladoc", health, "TDOC"}, {"kaiser permanente", health, ""},
    // Financial
    {"paypal", financial, "PYPL"}, {"venmo", financial, "PYPL"}, {"cash app", financial, "XYZ"},
    {"chase", financial, "JPM", start}, {"wells fargo", financial, "WFC"}, {"bank of america", financial, "BAC"},
    {"citibank", financial, "C"}, {"capital one", financial, "COF"}, {"american express", financial, "AXP"},
    {"amex", financial, "AXP"}, {"geico", financial, "BRK.B"}, {"progressive", financial, "PGR", start},
    {"allstate", financial, "ALL"}, {"state farm", financial, ""}, {"robinhood", financial, "HOOD"},
    {"coinbase", financial, "COIN"}, {"h&r block", financial, "HRB"}, {"turbotax", financial, "INTU"},
    {"western union", financial, "WU"}, {"affirm", financial, "AFRM", start},
    // Services
    {"fedex", services, "FDX"}, {"ups", services, "UPS", start}, {"the ups store", services, "UPS"},
    {"usps", services, ""}, {"dropbox", services, "DBX"}, {"adobe", services, "ADBE"},
    {"microsoft", services, "MSFT"}, {"google", services, "GOOGL", start}, {"godaddy", services, "GDDY"},
    {"zoom.us", services, "ZM"}, {"linkedin", services, "MSFT"}, {"great clips", services, ""},
    {"supercuts", services, ""}, {"angi", services, "ANGI", start}, {"chegg", services, "CHGG"},
    {"duolingo", services, "DUOL"}, {"docusign", services, "DOCU"}, {"openai", services, ""},
};

// Order matters: the specific before the generic ("gas & electric" is a
// utility, "gas station market" gas, "coffee shop" food, "store" last).
constexpr keyword_rule keywords[] = {
    {"electric", utilities}, {"energy", utilities}, {"water", utilities},    {"internet", utilities},
    {"wireless", utilities}, {"telecom", utilities}, {"cable", utilities},  {"utility", utilities},
    {"utilities", utilities},
    {"gas", gas},            {"fuel", gas},          {"petro", gas},        {"petroleum", gas},
    {"pharmacy", health},    {"drug", health},       {"drugs", health},     {"clinic", health},
    {"dental", health},      {"dentist", health},    {"medical", health},   {"hospital", health},
    {"urgent care", health}, {"optometry", health},  {"chiropractic", health}, {"fitness", health},
    {"gym", health},
    {"airline", travel},     {"airlines", travel},   {"airways", travel},   {"hotel", travel},
    {"hotels", travel},      {"inn", travel},        {"motel", travel},     {"resort", travel},
    {"suites", travel},      {"lodge", travel},      {"cruise", travel},    {"travel", travel},
    {"taxi", transport},     {"cab", transport},     {"parking", transport}, {"transit", transport},
    {"metro", transport},    {"toll", transport},    {"tolls", transport},  {"rideshare", transport},
    {"coffee", food},        {"cafe", food},         {"caf\xC3\xA9", food}, {"restaurant", food},
    {"pizza", food},         {"pizzeria", food},     {"grill", food},       {"bar", food},
    {"bakery", food},        {"burger", food},       {"burgers", food},     {"sushi", food},
    {"taqueria", food},      {"diner", food},        {"deli", food},        {"bistro", food},
    {"kitchen", food},       {"tavern", food},       {"pub", food},         {"brewery", food},
    {"brewing", food},       {"cantina", food},      {"bbq", food},         {"steakhouse", food},
    {"donuts", food},        {"bagels", food},       {"tea", food},         {"juice", food},
    {"taco", food},          {"tacos", food},        {"ramen", food},       {"eatery", food},
    {"grocery", groceries},  {"groceries", groceries}, {"market", groceries}, {"supermarket", groceries},
    {"foods", groceries},
    {"cinema", fun},         {"cinemas", fun},       {"theater", fun},      {"theatre", fun},
    {"movies", fun},         {"museum", fun},        {"zoo", fun},          {"arcade", fun},
    {"bowling", fun},        {"golf", fun},          {"tickets", fun},      {"stadium", fun},
    {"bank", financial},     {"insurance", financial}, {"credit union", financial}, {"mortgage", financial},
    {"loan", financial},     {"atm", financial},
    {"salon", services},     {"barber", services},   {"spa", services},     {"laundry", services},
    {"cleaners", services},  {"repair", services},   {"plumbing", services}, {"storage", services},
    {"law", services},       {"consulting", services}, {"services", services},
    {"store", shopping},     {"shop", shopping},     {"boutique", shopping}, {"outlet", shopping},
    {"mall", shopping},      {"apparel", shopping},  {"clothing", shopping}, {"shoes", shopping},
    {"books", shopping},     {"hardware", shopping}, {"furniture", shopping}, {"jewelry", shopping},
    {"electronics", shopping},
};

}  // namespace

std::span<const known_merchant> known_merchants() { return merchants; }
std::span<const keyword_rule> keyword_rules() { return keywords; }

}  // namespace celeriac::tasks::llm
