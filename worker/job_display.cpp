#include "worker/job_display.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "json/dump.hpp"

namespace celeriac::worker {

namespace {

// 1-3 significant digits after scaling by `step` prefixes.
std::string scaled(double v, double step, const char* const* prefixes, std::size_t count) {
  std::size_t i = 0;
  while (std::fabs(v) >= step * 0.9995 && i + 1 < count) {
    v /= step;
    ++i;
  }
  if (i == 0) return fmt::format("{:.0f}{}", v, prefixes[0]);
  if (std::fabs(v) < 9.995) return fmt::format("{:.2f}{}", v, prefixes[i]);
  if (std::fabs(v) < 99.95) return fmt::format("{:.1f}{}", v, prefixes[i]);
  return fmt::format("{:.0f}{}", v, prefixes[i]);
}

constexpr const char* byte_prefixes[] = {" B", " kB", " MB", " GB", " TB", " PB"};
constexpr const char* count_prefixes[] = {"", "k", "M", "G", "T"};

bool is_bytes(std::string_view unit) { return unit == "bytes" || unit == "byte" || unit == "B"; }

std::string amount(double n, std::string_view unit) {
  if (is_bytes(unit)) return scaled(n, 1000.0, byte_prefixes, std::size(byte_prefixes));
  std::string text = scaled(n, 1000.0, count_prefixes, std::size(count_prefixes));
  if (!unit.empty()) {
    text += ' ';
    text += unit;
  }
  return text;
}

double seconds_between(util::wall_time a, util::wall_time b) { return std::chrono::duration<double>(b - a).count(); }

std::string pad(std::string s, std::size_t width) {
  // Widths count bytes; names and states are ASCII in practice.
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

std::string format_amount(std::int64_t n, std::string_view unit) { return amount(static_cast<double>(n), unit); }

std::string format_rate(double per_second, std::string_view unit) {
  if (!is_bytes(unit) && per_second < 9.995 && per_second > 0)
    return fmt::format("{:.1f}{}{}/s", per_second, unit.empty() ? "" : " ", unit);
  return amount(per_second, unit) + "/s";
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "-";
  const auto total = static_cast<std::int64_t>(std::llround(seconds));
  const std::int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{}:{:02}", m, s);
}

std::string progress_bar(double fraction, int width) {
  if (!(fraction >= 0)) fraction = 0;
  fraction = std::min(fraction, 1.0);
  width = std::max(width, 1);
  const int filled = static_cast<int>(std::floor(fraction * width + 1e-9));
  return "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '.') + "]";
}

// ---------------------------------------------------------------------------
// rate_meter
// ---------------------------------------------------------------------------

void rate_meter::add(util::wall_time at, std::int64_t done, std::optional<std::int64_t> rows) {
  if (!samples_.empty()) {
    const sample& last = samples_.back();
    if (done < last.done || at < last.at) samples_.clear();  // a new attempt, or a clock step
  }
  if (!samples_.empty() && samples_.back().at == at) {
    samples_.back() = sample{at, done, rows};
  } else {
    samples_.push_back(sample{at, done, rows});
  }
  // Keep one observation older than the window, so the window is covered.
  while (samples_.size() > 2 && samples_[1].at <= at - window_) samples_.pop_front();
}

std::optional<double> rate_meter::rate() const {
  if (samples_.size() < 2) return std::nullopt;
  const double dt = seconds_between(samples_.front().at, samples_.back().at);
  if (dt < 0.05) return std::nullopt;
  return static_cast<double>(samples_.back().done - samples_.front().done) / dt;
}

std::optional<double> rate_meter::row_rate() const {
  if (samples_.size() < 2 || !samples_.front().rows || !samples_.back().rows) return std::nullopt;
  const double dt = seconds_between(samples_.front().at, samples_.back().at);
  if (dt < 0.05) return std::nullopt;
  return static_cast<double>(*samples_.back().rows - *samples_.front().rows) / dt;
}

// ---------------------------------------------------------------------------
// Lines and tables
// ---------------------------------------------------------------------------

std::optional<std::int64_t> meta_rows_loaded(const pg::job_row& job) {
  if (!job.meta) return std::nullopt;
  const json::value* v = job.meta->find("rows_loaded");
  if (!v || !v->is_integer()) return std::nullopt;
  return v->as_integer();
}

std::string progress_line(const pg::job_row& job, const rate_meter& meter, int bar_width) {
  const std::string unit = job.progress_unit.value_or("");
  if (!job.progress_done) return std::string(pg::to_string(job.state));
  const std::int64_t done = *job.progress_done;
  std::string line;
  const bool has_total = job.progress_total && *job.progress_total > 0;
  if (has_total) {
    const double fraction = static_cast<double>(done) / static_cast<double>(*job.progress_total);
    line = fmt::format("{} {:3.0f}% {}/{}", progress_bar(fraction, bar_width), std::floor(std::min(fraction, 1.0) * 100),
                       format_amount(done, unit), format_amount(*job.progress_total, unit));
  } else {
    line = format_amount(done, unit);
  }
  if (auto rows = meta_rows_loaded(job); rows && !has_total) line += fmt::format("  {}", format_amount(*rows, "rows"));
  const auto rate = meter.rate();
  if (auto row_rate = meter.row_rate()) {
    line += "  " + format_rate(*row_rate, "rows");
  } else if (rate) {
    line += "  " + format_rate(*rate, unit);
  }
  if (has_total && rate && *rate > 0 && !pg::is_final(job.state)) {
    const double eta = static_cast<double>(*job.progress_total - done) / *rate;
    line += "  ETA " + format_duration(eta);
  }
  return line;
}

std::string format_time(util::wall_time t) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S}", std::chrono::floor<std::chrono::seconds>(t));
}

std::string describe_job(const pg::job_row& job) {
  std::string out;
  auto add = [&out](std::string_view label, const std::string& value) {
    out += fmt::format("{:<10}{}\n", label, value);
  };
  add("task", job.task_id);
  if (job.name) add("name", *job.name);
  add("state", fmt::format("{}{}", pg::to_string(job.state), job.attempts > 1 ? fmt::format(" (attempt {})", job.attempts) : ""));
  if (job.queue) add("queue", *job.queue);
  if (job.worker) add("worker", *job.worker);
  if (job.progress_done) {
    rate_meter none;
    add("progress", progress_line(job, none));
  }
  if (job.meta) add("meta", json::dump(*job.meta));
  if (job.message) add("message", *job.message);
  add("created", format_time(job.created_at) + " UTC");
  if (job.started_at) add("started", format_time(*job.started_at) + " UTC");
  if (job.finished_at) {
    add("finished", format_time(*job.finished_at) + " UTC");
    if (job.started_at) add("runtime", format_duration(seconds_between(*job.started_at, *job.finished_at)));
  }
  if (job.error) add("error", *job.error);
  if (job.result) add("result", *job.result);
  return out;
}

std::string jobs_table(const std::vector<pg::job_row>& jobs, util::wall_time now) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"TASK ID", "NAME", "STATE", "PROGRESS", "ATTEMPTS", "WORKER", "CREATED (UTC)", "RUNTIME"});
  for (const pg::job_row& j : jobs) {
    std::string progress;
    if (j.progress_done) {
      const std::string unit = j.progress_unit.value_or("");
      if (j.progress_total && *j.progress_total > 0) {
        progress = fmt::format("{:.0f}% {}/{}",
                               std::floor(100.0 * static_cast<double>(*j.progress_done) /
                                          static_cast<double>(*j.progress_total)),
                               format_amount(*j.progress_done, unit), format_amount(*j.progress_total, unit));
      } else {
        progress = format_amount(*j.progress_done, unit);
      }
    } else {
      progress = "-";
    }
    std::string runtime = "-";
    if (j.started_at) runtime = format_duration(seconds_between(*j.started_at, j.finished_at.value_or(now)));
    rows.push_back({j.task_id, j.name.value_or("-"), std::string(pg::to_string(j.state)), progress,
                    std::to_string(j.attempts), j.worker.value_or("-"), format_time(j.created_at), runtime});
  }
  std::vector<std::size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size(); ++c) widths[c] = std::max(widths[c], r[c].size());
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) line += c + 1 < r.size() ? pad(r[c], widths[c] + 2) : r[c];
    out += line + "\n";
  }
  return out;
}

}  // namespace celeriac::worker
