#include "scheduler/schedule_file.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <boost/throw_exception.hpp>
#include <fmt/format.h>

#include "util/edit_distance.hpp"
#include <toml++/toml.h>

#include "cron/cron_expression.hpp"
#include "cron/interval_schedule.hpp"
#include "cron/time_zone.hpp"
#include "scheduler/toml_json.hpp"

namespace celeriac::scheduler {

namespace {

constexpr std::array<std::string_view, 12> known_fields = {"name",     "task",     "cron",  "every",
                                                           "args",     "kwargs",   "queue", "priority",
                                                           "expires",  "timezone", "missed", "enabled"};

// Names, task names and queues end up in Redis keys and log lines; keep
// them to characters that need no quoting anywhere.
constexpr std::size_t max_identifier_length = 200;

// A problem and the line it is on, so the report can be put in file order.
struct problem {
  std::size_t line;
  std::string message;
};

std::size_t line_of(const toml::node& n) { return static_cast<std::size_t>(n.source().begin.line); }
std::size_t line_of(const toml::key& k) { return static_cast<std::size_t>(k.source().begin.line); }

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// Why `s` is not a usable identifier, or nullopt if it is.
std::optional<std::string> identifier_problem(std::string_view s) {
  if (s.empty()) return std::string("must not be empty");
  if (s.size() > max_identifier_length) return fmt::format("is longer than {} characters", max_identifier_length);
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '-';
    if (!ok) return std::string("may hold only letters, digits and \"_.:-\"");
  }
  return std::nullopt;
}

std::string unknown_field_message(std::string_view key) {
  std::string_view closest;
  std::size_t best = 3;  // suggest only near misses
  for (auto f : known_fields) {
    if (auto d = util::edit_distance(key, f); d < best) {
      best = d;
      closest = f;
    }
  }
  if (!closest.empty()) return fmt::format("unknown field \"{}\"; did you mean \"{}\"?", key, closest);
  return fmt::format("unknown field \"{}\"; known fields are {}", key, fmt::join(known_fields, ", "));
}

// Reads one [[entry]] table, reporting each problem against `label`.
class entry_reader {
 public:
  entry_reader(std::string_view source, const toml::table& table, std::size_t index,
               std::map<std::string, std::size_t, std::less<>>& names_seen, std::vector<problem>& problems)
      : source_(source), table_(table), names_seen_(names_seen), problems_(problems) {
    label_ = fmt::format("entry #{}", index + 1);
  }

  // The entry, or nullopt when any problem was reported.
  std::optional<schedule_entry> read() {
    const std::size_t problems_before = problems_.size();
    const std::size_t header = line_of(table_);

    auto name = read_name(header);
    for (auto&& [key, value] : table_) {
      if (std::find(known_fields.begin(), known_fields.end(), key.str()) == known_fields.end())
        report(line_of(key), unknown_field_message(key.str()));
    }

    auto task = identifier("task", header, true);
    auto when = read_schedule(header);
    auto args = json_field("args", toml::node_type::array, "an array, e.g. args = [2, 3]");
    auto kwargs = json_field("kwargs", toml::node_type::table, "a table, e.g. kwargs = { view = \"name\" }");
    auto queue = identifier("queue", header, false);
    auto priority = read_priority();
    auto expires = read_expires();
    auto zone = read_time_zone();
    auto missed = read_missed();
    auto enabled = typed("enabled", toml::node_type::boolean, "true or false");

    if (problems_.size() != problems_before || !name || !task || !when) return std::nullopt;
    return schedule_entry{
        .name = std::move(*name),
        .task = std::move(*task),
        .when = std::move(*when),
        .args_json = args ? std::move(*args) : std::string("[]"),
        .kwargs_json = kwargs ? std::move(*kwargs) : std::string("{}"),
        .queue = queue ? std::move(*queue) : std::string(default_queue),
        .priority = priority,
        .expires = expires,
        .timezone_name = std::move(zone.first),
        .timezone = zone.second,
        .missed = missed,
        .enabled = enabled == nullptr || enabled->as_boolean()->get(),
        .line = header,
    };
  }

 private:
  void report(std::size_t line, std::string_view what) {
    problems_.push_back({line, fmt::format("{}:{}: {}: {}", source_, line, label_, what)});
  }

  // The field's node if present and of the wanted type; reports a wrong type.
  const toml::node* typed(std::string_view key, toml::node_type type, std::string_view expectation) {
    const toml::node* n = table_.get(key);
    if (n == nullptr) return nullptr;
    if (n->type() != type) {
      report(line_of(*n), fmt::format("field \"{}\" must be {}, not {}", key, expectation, type_name(n->type())));
      return nullptr;
    }
    return n;
  }

  void missing(std::size_t header, std::string_view key, std::string_view example) {
    report(header, fmt::format("missing required field \"{}\" (e.g. {})", key, example));
  }

  std::optional<std::string> read_name(std::size_t header) {
    const toml::node* n = table_.get("name");
    if (n == nullptr) {
      missing(header, "name", "name = \"dashboard-stats\"");
      return std::nullopt;
    }
    const toml::node* s = typed("name", toml::node_type::string, "a string");
    if (s == nullptr) return std::nullopt;
    std::string name = s->as_string()->get();
    if (auto why = identifier_problem(name)) {
      report(line_of(*s), fmt::format("name \"{}\" {}", name, *why));
      return std::nullopt;
    }
    label_ = fmt::format("entry \"{}\"", name);
    if (auto [it, inserted] = names_seen_.try_emplace(name, line_of(*s)); !inserted) {
      report(line_of(*s), fmt::format("name \"{}\" is already used by the entry at line {}; names must be unique",
                                      name, it->second));
      return std::nullopt;
    }
    return name;
  }

  std::optional<std::string> identifier(std::string_view key, std::size_t header, bool required) {
    if (table_.get(key) == nullptr) {
      if (required) missing(header, key, "task = \"celeriac.analytics.dashboard_stats\"");
      return std::nullopt;
    }
    const toml::node* n = typed(key, toml::node_type::string, "a string");
    if (n == nullptr) return std::nullopt;
    std::string value = n->as_string()->get();
    if (auto why = identifier_problem(value)) {
      report(line_of(*n), fmt::format("{} \"{}\" {}", key, value, *why));
      return std::nullopt;
    }
    return value;
  }

  std::optional<cron::schedule> read_schedule(std::size_t header) {
    const toml::node* cron_node = table_.get("cron");
    const toml::node* every_node = table_.get("every");
    if (cron_node == nullptr && every_node == nullptr) {
      report(header, "needs a schedule: set cron = \"*/5 * * * *\" or every = \"30s\"");
      return std::nullopt;
    }
    if (cron_node != nullptr && every_node != nullptr) {
      report(line_of(*every_node), "set either cron or every, not both");
      return std::nullopt;
    }
    if (cron_node != nullptr) {
      const toml::node* n = typed("cron", toml::node_type::string, "a string such as \"*/5 * * * *\"");
      if (n == nullptr) return std::nullopt;
      const std::string& text = n->as_string()->get();
      auto e = cron::cron_expression::parse(text);
      if (!e) {
        report(line_of(*n), fmt::format("cron \"{}\": {}", text, e.error().message));
        return std::nullopt;
      }
      return cron::schedule{std::move(*e)};
    }
    const toml::node* n = typed("every", toml::node_type::string, "a string such as \"30s\" or \"1h30m\"");
    if (n == nullptr) return std::nullopt;
    auto i = cron::interval_schedule::parse(n->as_string()->get());
    if (!i) {
      report(line_of(*n), i.error().message);
      return std::nullopt;
    }
    return cron::schedule{std::move(*i)};
  }

  std::optional<std::string> json_field(std::string_view key, toml::node_type type, std::string_view expectation) {
    const toml::node* n = typed(key, type, expectation);
    if (n == nullptr) return std::nullopt;
    auto json = toml_to_json(*n, key);
    if (!json) {
      report(json.error().line != 0 ? json.error().line : line_of(*n), json.error().message);
      return std::nullopt;
    }
    return std::move(*json);
  }

  std::optional<int> read_priority() {
    const toml::node* n = typed("priority", toml::node_type::integer, "an integer from 0 to 9");
    if (n == nullptr) return std::nullopt;
    const auto v = n->as_integer()->get();
    if (v < 0 || v > 9) {
      report(line_of(*n), fmt::format("priority {} is out of range; use an integer from 0 to 9", v));
      return std::nullopt;
    }
    return static_cast<int>(v);
  }

  std::optional<double> read_expires() {
    const toml::node* n = table_.get("expires");
    if (n == nullptr) return std::nullopt;
    double v = 0;
    if (const auto* i = n->as_integer()) {
      v = static_cast<double>(i->get());
    } else if (const auto* f = n->as_floating_point()) {
      v = f->get();
    } else {
      report(line_of(*n),
             fmt::format("field \"expires\" must be a number of seconds, not {}", type_name(n->type())));
      return std::nullopt;
    }
    if (!std::isfinite(v) || v <= 0) {
      report(line_of(*n), fmt::format("expires {} must be a positive number of seconds", v));
      return std::nullopt;
    }
    return v;
  }

  std::pair<std::string, const date::time_zone*> read_time_zone() {
    const toml::node* n = typed("timezone", toml::node_type::string, "an IANA zone name such as \"Europe/London\"");
    const std::string name = n != nullptr ? n->as_string()->get() : std::string("UTC");
    auto zone = cron::find_time_zone(name);
    if (!zone) {
      report(n != nullptr ? line_of(*n) : line_of(table_), zone.error().message);
      return {name, nullptr};
    }
    return {name, *zone};
  }

  missed_policy read_missed() {
    const toml::node* n = typed("missed", toml::node_type::string, "\"run_once\" or \"skip\"");
    if (n == nullptr) return missed_policy::run_once;
    const std::string& v = n->as_string()->get();
    if (v == "run_once") return missed_policy::run_once;
    if (v == "skip") return missed_policy::skip;
    report(line_of(*n), fmt::format("missed \"{}\": expected \"run_once\" or \"skip\"", v));
    return missed_policy::run_once;
  }

  std::string_view source_;
  const toml::table& table_;
  std::map<std::string, std::size_t, std::less<>>& names_seen_;
  std::vector<problem>& problems_;
  std::string label_;
};

schedule_file_error to_error(std::vector<problem> problems) {
  std::stable_sort(problems.begin(), problems.end(),
                   [](const problem& a, const problem& b) { return a.line < b.line; });
  schedule_file_error e;
  for (auto& p : problems) e.messages.push_back(std::move(p.message));
  return e;
}

}  // namespace

std::string schedule_file_error::to_string() const {
  std::string out;
  for (const auto& m : messages) {
    if (!out.empty()) out += '\n';
    out += m;
  }
  return out;
}

schedule_result<std::vector<schedule_entry>> parse_schedule(std::string_view toml_text,
                                                            std::string_view source_name) {
  toml::table doc;
  // toml++ reports syntax errors by exception; this is the edge where that
  // becomes a value.
  try {
    doc = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return schedule_file_error{{fmt::format("{}:{}:{}: TOML syntax error: {}", source_name, e.source().begin.line,
                                            e.source().begin.column, e.description())}};
  }

  std::vector<problem> problems;
  for (auto&& [key, value] : doc) {
    if (key.str() != "entry") {
      problems.push_back({line_of(key), fmt::format("{}:{}: unknown top-level key \"{}\"; a schedule file holds "
                                                    "only [[entry]] tables",
                                                    source_name, line_of(key), key.str())});
    }
  }

  std::vector<schedule_entry> entries;
  const toml::node* entry_node = doc.get("entry");
  if (entry_node == nullptr) {
    problems.push_back({0, fmt::format("{}: no [[entry]] tables; nothing to schedule", source_name)});
    return to_error(std::move(problems));
  }
  if (!entry_node->is_array_of_tables()) {
    problems.push_back({line_of(*entry_node),
                        fmt::format("{}:{}: \"entry\" must be written as [[entry]] tables, one per entry",
                                    source_name, line_of(*entry_node))});
    return to_error(std::move(problems));
  }

  std::map<std::string, std::size_t, std::less<>> names_seen;
  const toml::array& tables = *entry_node->as_array();
  for (std::size_t i = 0; i < tables.size(); ++i) {
    entry_reader reader{source_name, *tables[i].as_table(), i, names_seen, problems};
    if (auto e = reader.read()) entries.push_back(std::move(*e));
  }
  if (!problems.empty()) return to_error(std::move(problems));
  return entries;
}

schedule_result<std::vector<schedule_entry>> load_schedule_file(const std::filesystem::path& path) {
  const std::string shown = path.string();
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return schedule_file_error{
        {fmt::format("{}: cannot read the schedule file: {}; check the --schedule path", shown, ec.message())}};
  }
  if (size > max_schedule_file_bytes) {
    return schedule_file_error{{fmt::format("{}: the schedule file is {} bytes, over the {}-byte limit; is this "
                                            "the right file?",
                                            shown, size, max_schedule_file_bytes)}};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return schedule_file_error{{fmt::format("{}: cannot open the schedule file; check its permissions", shown)}};
  }
  std::ostringstream text;
  if (size > 0) text << in.rdbuf();
  return parse_schedule(text.str(), shown);
}

void throw_exception_from_error(const schedule_file_error& e, const boost::source_location& loc) {
  boost::throw_exception(std::invalid_argument(e.to_string()), loc);
}

}  // namespace celeriac::scheduler
