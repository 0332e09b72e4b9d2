#include "admin/dead_format.hpp"

#include <fmt/format.h>

#include "json/dump.hpp"
#include "json/parse.hpp"

namespace celeriac::admin {
namespace {

// Control characters (newlines in a traceback-like message) would break
// the row layout; a space keeps the text readable.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  return out;
}

}  // namespace

std::string task_label(const dead_entry& e) {
  if (!e.task && !e.task_id) return "task unknown";
  return fmt::format("{}[{}]", e.task.value_or("?"), e.task_id.value_or("?"));
}

std::string format_dead_row(std::size_t index, const dead_entry& e) {
  if (!e.well_formed) {
    constexpr std::size_t shown = 200;
    const std::string text = one_line(e.text.substr(0, shown));
    return fmt::format("#{}  (not a dead-letter entry)\n    {}{}\n", index, text, e.text.size() > shown ? "..." : "");
  }
  return fmt::format("#{}  {}  {}  queue {}  {}\n    {}\n", index, e.reason.empty() ? "?" : e.reason,
                     e.time.empty() ? "?" : e.time, e.queue.empty() ? "?" : one_line(e.queue), one_line(task_label(e)),
                     one_line(e.message));
}

std::string format_dead_json(std::size_t index, const dead_entry& e) {
  json::object out;
  out.emplace_back("index", json::value(static_cast<long long>(index)));
  auto doc = json::parse(e.text);
  if (!e.well_formed || !doc || !doc->is_object()) {
    out.emplace_back("unparsable", json::value(e.text));
    out.emplace_back("requeueable", json::value(false));
    return json::dump(json::value(std::move(out)));
  }
  json::object stored = std::move(doc->as_object());
  out.insert(out.end(), std::make_move_iterator(stored.begin()), std::make_move_iterator(stored.end()));
  json::value result(std::move(out));
  if (e.task && !result.find("task")) result.set("task", json::value(*e.task));
  if (e.task_id && !result.find("task_id")) result.set("task_id", json::value(*e.task_id));
  auto plan = plan_requeue(e);
  result.set("requeueable", json::value(plan.has_value()));
  if (!plan) result.set("not_requeueable_because", json::value(plan.error().why));
  return json::dump(result);
}

std::string describe_listing(std::size_t total, std::size_t matched, std::size_t shown, const dead_filter& filter) {
  if (total == 0) return "celeriac.dead is empty";
  std::string text = fmt::format("{} {} in celeriac.dead", total, total == 1 ? "entry" : "entries");
  if (filter.reason) text += fmt::format(", {} with reason {}", matched, *filter.reason);
  if (filter.task_id) text += fmt::format(", {} of task id {}", matched, *filter.task_id);
  if (shown == matched) return text + (matched == 0 ? "" : fmt::format("; showing {}", shown == 1 ? "it" : "all"));
  return text + fmt::format("; showing the newest {} (--limit)", shown);
}

}  // namespace celeriac::admin
