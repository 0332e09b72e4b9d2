#include "cron/cron_expression.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

namespace celeriac::cron {

namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::sys_seconds;

// ---------------------------------------------------------------------------
// Field parsing
// ---------------------------------------------------------------------------

constexpr std::array<std::string_view, 12> month_names = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> day_names = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct field_spec {
  std::string_view name;          // as it appears in messages: "day-of-month"
  unsigned low;                   // smallest accepted number
  unsigned high;                  // largest accepted number (7 for day-of-week)
  const std::string_view* names;  // names[i] stands for the value name_base + i; nullptr if none
  std::size_t name_count;
  unsigned name_base;
  std::string_view accepted;      // what to suggest after a bad value: "1-12 or jan-dec"
};

constexpr field_spec minute_spec{"minute", 0, 59, nullptr, 0, 0, "0-59"};
constexpr field_spec hour_spec{"hour", 0, 23, nullptr, 0, 0, "0-23"};
constexpr field_spec dom_spec{"day-of-month", 1, 31, nullptr, 0, 0, "1-31"};
constexpr field_spec month_spec{"month", 1, 12, month_names.data(), month_names.size(), 1, "1-12 or jan-dec"};
constexpr field_spec dow_spec{"day-of-week", 0, 7, day_names.data(), day_names.size(), 0,
                              "0-7 (0 and 7 are Sunday) or sun-sat"};

// Numbers longer than this are refused before conversion, so "999999999999"
// reports "out of range" without overflowing.
constexpr std::size_t max_number_digits = 6;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A failed field parse: only the reason; parse_field adds the field's name.
struct field_failure {
  std::string why;
};

template <class T>
using field_result = boost::system::result<T, field_failure>;

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

// Parses a bare number (no names), e.g. a step.
field_result<unsigned> parse_number(std::string_view s) {
  if (!all_digits(s)) return field_failure{fmt::format("\"{}\" is not a number", s)};
  if (s.size() > max_number_digits) return field_failure{fmt::format("{} is too large", s)};
  unsigned v = 0;
  for (char c : s) v = v * 10 + static_cast<unsigned>(c - '0');
  return v;
}

// Parses one value of a field: a number in range or, where the field has
// them, a three-letter name.
field_result<unsigned> parse_value(std::string_view s, const field_spec& spec) {
  if (s.empty()) return field_failure{fmt::format("a value is missing; expected {}", spec.accepted)};
  if (is_digit(s.front())) {
    auto n = parse_number(s);
    if (!n) return field_failure{fmt::format("\"{}\" is not a value; expected {}", s, spec.accepted)};
    if (*n < spec.low || *n > spec.high)
      return field_failure{fmt::format("{} is out of range {}", s, spec.accepted)};
    return *n;
  }
  if (spec.names != nullptr && s.size() == 3) {
    for (std::size_t i = 0; i < spec.name_count; ++i) {
      const auto name = spec.names[i];
      if (lower(s[0]) == name[0] && lower(s[1]) == name[1] && lower(s[2]) == name[2])
        return spec.name_base + static_cast<unsigned>(i);
    }
  }
  if (spec.names != nullptr) return field_failure{fmt::format("unknown name \"{}\"; expected {}", s, spec.accepted)};
  return field_failure{fmt::format("\"{}\" is not a number; expected {}", s, spec.accepted)};
}

// Parses one comma-separated item ("*", "5", "1-5", "*/15", "1-31/2") and
// sets its values in `bits` (bit v = value v).
boost::system::result<void, field_failure> parse_item(std::string_view item, const field_spec& spec,
                                                      std::uint64_t& bits) {
  if (item.empty()) return field_failure{"the list has an empty item (two commas, or one at an end)"};
  std::string_view base = item;
  std::optional<unsigned> step;
  if (auto slash = item.find('/'); slash != std::string_view::npos) {
    base = item.substr(0, slash);
    std::string_view step_text = item.substr(slash + 1);
    if (step_text.find('/') != std::string_view::npos)
      return field_failure{fmt::format("\"{}\" has more than one '/'", item)};
    auto n = parse_number(step_text);
    if (!n) return field_failure{fmt::format("step \"{}\" is not a number", step_text)};
    const unsigned span = spec.high - spec.low + 1;
    if (*n < 1 || *n > span) return field_failure{fmt::format("step {} must be between 1 and {}", step_text, span)};
    step = *n;
  }

  unsigned first = spec.low;
  unsigned last = spec.high;
  if (base == "*") {
    // '*' is first-last, optionally stepped: "*/15".
  } else if (auto dash = base.find('-'); dash != std::string_view::npos) {
    auto a = parse_value(base.substr(0, dash), spec);
    if (!a) return a.error();
    auto b = parse_value(base.substr(dash + 1), spec);
    if (!b) return b.error();
    if (*a > *b) {
      return field_failure{fmt::format("range {} runs backwards; cron ranges do not wrap around, so list the two "
                                       "parts instead (e.g. \"{}-{},{}-{}\")",
                                       base, base.substr(0, dash), spec.high, spec.low, base.substr(dash + 1))};
    }
    first = *a;
    last = *b;
  } else {
    auto v = parse_value(base, spec);
    if (!v) return v.error();
    if (step) {
      return field_failure{fmt::format("a step needs '*' or a range before it: write \"*/{}\" or \"{}-{}/{}\", "
                                       "not \"{}\"",
                                       *step, base, spec.high, *step, item)};
    }
    first = last = *v;
  }
  for (unsigned v = first; v <= last; v += step.value_or(1)) bits |= std::uint64_t{1} << v;
  return {};
}

// Parses a whole field ("1,15,*/20") into a bit set of its values.
result<std::uint64_t> parse_field(std::string_view text, const field_spec& spec) {
  std::uint64_t bits = 0;
  std::string_view rest = text;
  while (true) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    if (auto r = parse_item(item, spec, bits); !r) {
      return error{fmt::format("{} field \"{}\": {}", spec.name, text, r.error().why)};
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return bits;
}

template <std::size_t N>
std::bitset<N> to_bitset(std::uint64_t bits) {
  std::bitset<N> out;
  for (std::size_t i = 0; i < N; ++i) out[i] = ((bits >> i) & 1U) != 0;
  return out;
}

struct macro {
  std::string_view name;
  std::string_view expansion;
};

constexpr std::array<macro, 7> macros = {{{"@yearly", "0 0 1 1 *"},
                                          {"@annually", "0 0 1 1 *"},
                                          {"@monthly", "0 0 1 * *"},
                                          {"@weekly", "0 0 * * 0"},
                                          {"@daily", "0 0 * * *"},
                                          {"@midnight", "0 0 * * *"},
                                          {"@hourly", "0 * * * *"}}};

std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i])) ++i;
    std::size_t start = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    if (i > start) fields.push_back(s.substr(start, i - start));
  }
  return fields;
}

// Longest each month can be; February counts its leap day, since a
// schedule for the 29th does fire in leap years.
constexpr std::array<unsigned, 13> max_month_days = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

// 400 Gregorian years: the calendar (weekdays included) repeats after this,
// so a search that finds nothing here will never find anything.
constexpr date::days search_horizon{146097};

sys_seconds never() { return sys_seconds::max(); }

// Years outside this are refused by next_after so that adding the search
// horizon can never overflow date's year range.
constexpr date::sys_days earliest_input = date::year{1} / 1 / 1;
constexpr date::sys_days latest_input = date::year{9999} / 12 / 31;

}  // namespace

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

result<cron_expression> cron_expression::parse(std::string_view input) {
  const std::string_view text = trim(input);
  if (text.empty()) {
    return error{"empty cron expression; expected 5 fields (minute hour day-of-month month day-of-week) or a "
                 "macro such as @daily"};
  }

  std::string_view fields_text = text;
  if (text.front() == '@') {
    if (split_fields(text).size() != 1)
      return error{fmt::format("\"{}\": a macro such as @daily must be the whole expression", text)};
    if (text == "@reboot") {
      return error{"@reboot is not supported: beat fires entries by the clock, not when a process starts; use a "
                   "time such as @daily"};
    }
    const macro* found = nullptr;
    for (const auto& m : macros)
      if (m.name == text) found = &m;
    if (found == nullptr) {
      return error{fmt::format("unknown macro \"{}\"; expected @yearly, @annually, @monthly, @weekly, @daily, "
                               "@midnight or @hourly",
                               text)};
    }
    fields_text = found->expansion;
  }

  const auto fields = split_fields(fields_text);
  if (fields.size() != 5) {
    return error{fmt::format("expected 5 fields (minute hour day-of-month month day-of-week), got {}{}",
                             fields.size(),
                             fields.size() == 6 ? "; seconds and year fields are not part of cron syntax" : "")};
  }

  cron_expression e;
  e.text_ = std::string(text);
  auto minute = parse_field(fields[0], minute_spec);
  if (!minute) return minute.error();
  auto hour = parse_field(fields[1], hour_spec);
  if (!hour) return hour.error();
  auto dom = parse_field(fields[2], dom_spec);
  if (!dom) return dom.error();
  auto month = parse_field(fields[3], month_spec);
  if (!month) return month.error();
  auto dow = parse_field(fields[4], dow_spec);
  if (!dow) return dow.error();

  std::uint64_t weekday_bits = *dow;
  if ((weekday_bits >> 7) & 1U) weekday_bits = (weekday_bits & ~(std::uint64_t{1} << 7)) | 1U;  // 7 is Sunday

  e.minutes_ = to_bitset<60>(*minute);
  e.hours_ = to_bitset<24>(*hour);
  e.days_ = to_bitset<32>(*dom);
  e.months_ = to_bitset<13>(*month);
  e.weekdays_ = to_bitset<7>(weekday_bits);
  // cron(8) decides "wildcard" and the day rule by the first character.
  e.minute_star_ = fields[0].front() == '*';
  e.hour_star_ = fields[1].front() == '*';
  e.dom_star_ = fields[2].front() == '*';
  e.dow_star_ = fields[4].front() == '*';

  // When the day of month must match (the AND case), some selected month has
  // to contain some selected day, or the expression never fires; every such
  // (month, day) pair meets every weekday within the 400-year cycle.
  if (!e.day_fields_ored()) {
    bool possible = false;
    for (unsigned m = 1; m <= 12 && !possible; ++m) {
      if (!e.months_[m]) continue;
      for (unsigned d = 1; d <= max_month_days[m]; ++d) {
        if (e.days_[d]) {
          possible = true;
          break;
        }
      }
    }
    if (!possible) {
      return error{fmt::format("day-of-month field \"{}\" never occurs in month field \"{}\", so the expression "
                               "would never fire",
                               fields[2], fields[3])};
    }
  }
  return e;
}

bool operator==(const cron_expression& a, const cron_expression& b) noexcept {
  return a.minutes_ == b.minutes_ && a.hours_ == b.hours_ && a.days_ == b.days_ && a.months_ == b.months_ &&
         a.weekdays_ == b.weekdays_ && a.minute_star_ == b.minute_star_ && a.hour_star_ == b.hour_star_ &&
         a.dom_star_ == b.dom_star_ && a.dow_star_ == b.dow_star_;
}

// ---------------------------------------------------------------------------
// Matching on the local calendar
// ---------------------------------------------------------------------------

bool cron_expression::matches_date(date::year_month_day d) const noexcept {
  if (!d.ok() || !months_[static_cast<unsigned>(d.month())]) return false;
  const bool dom = days_[static_cast<unsigned>(d.day())];
  const bool dow = weekdays_[date::weekday{date::sys_days{d}}.c_encoding()];
  return day_fields_ored() ? (dom || dow) : (dom && dow);
}

std::optional<date::local_seconds> cron_expression::next_local_match(date::local_seconds after) const {
  const auto start = date::floor<minutes>(after) + minutes{1};
  auto day = date::floor<date::days>(start);
  const auto limit = day + search_horizon;
  const auto minute_of_day = static_cast<unsigned>((start - day).count());
  unsigned hour = minute_of_day / 60;
  unsigned minute = minute_of_day % 60;

  while (day < limit) {
    const date::year_month_day ymd{day};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      // Jump to the first day of the next month rather than walk the days.
      const auto next_month = date::year_month{ymd.year(), ymd.month()} + date::months{1};
      day = date::local_days{next_month / 1};
      hour = minute = 0;
      continue;
    }
    if (matches_date(ymd)) {
      for (; hour < 24; ++hour, minute = 0) {
        if (!hours_[hour]) continue;
        for (unsigned m = minute; m < 60; ++m) {
          if (minutes_[m]) return date::local_seconds{day} + hours{hour} + minutes{m};
        }
      }
    }
    day += date::days{1};
    hour = minute = 0;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Fire times in a zone
// ---------------------------------------------------------------------------

sys_seconds cron_expression::next_after(sys_seconds t, const date::time_zone* zone) const {
  if (t < earliest_input || t > latest_input) return never();
  if (zone == nullptr) {
    auto l = next_local_match(date::local_seconds{t.time_since_epoch()});
    return l ? sys_seconds{l->time_since_epoch()} : never();
  }
  return follows_real_time() ? next_real_time(t, *zone) : next_wall_clock(t, *zone);
}

// Wall clock: local time L fires at the first instant the clock reads L or
// later. A fire after t needs L later than the clock reading at t, but in a
// repeated hour's second pass such an L may have fired in the first pass;
// skip those.
sys_seconds cron_expression::next_wall_clock(sys_seconds t, const date::time_zone& zone) const {
  auto after = zone.to_local(t);
  while (true) {
    auto l = next_local_match(after);
    if (!l) return never();
    const auto info = zone.get_info(*l);
    const sys_seconds fire = info.result == date::local_info::nonexistent
                                 ? info.second.begin  // skipped: fires once the clock has jumped past it
                                 : sys_seconds{l->time_since_epoch()} - info.first.offset;  // first occurrence
    if (fire > t) return fire;
    after = *l;
  }
}

// Real time: walk the zone's offset periods; within one the local clock is
// UTC plus a constant, so the first matching local minute maps back directly
// unless it falls past the period's end.
sys_seconds cron_expression::next_real_time(sys_seconds t, const date::time_zone& zone) const {
  sys_seconds from = t;  // exclusive lower bound, inside `period`
  auto period = zone.get_info(t);
  while (true) {
    auto l = next_local_match(date::local_seconds{(from + period.offset).time_since_epoch()});
    if (!l) return never();
    const sys_seconds fire = sys_seconds{l->time_since_epoch()} - period.offset;
    if (fire < period.end) return fire;
    from = period.end - seconds{1};
    period = zone.get_info(period.end);
  }
}

}  // namespace celeriac::cron
