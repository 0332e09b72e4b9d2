// csv_bench: throughput of the CSV import's pure half on generated
// llm_mappings rows held in memory (quoted names with commas, doubled
// quotes and apostrophes, non-ASCII names, empty tickers, offsets).
//
//   csv_bench [rows=1000000] [rounds=5] [stage=all|parse|validate|encode|split] [csv_out]
//
// Prints rows/s and MB/s for parse only, parse+validate, and
// parse+validate+encode (the encoder drained every MiB, as the import job
// hands its bytes to PQputCopyData), best of the rounds; and the scan a
// parallel import makes for its split points (4 parts: it reads 3/4 of
// the file). Rates are per
// second of this thread's CPU time, so other load on the machine skews
// them less than wall time would; wall-clock rows/s are shown beside.
// With csv_out, the generated file is also written there (to compare with
// psql's \copy, or to load its COPY output into a real server).

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "csv/copy_encoder.hpp"
#include "csv/profile.hpp"
#include "csv/reader.hpp"
#include "csv/split_points.hpp"
#include "csv/validate.hpp"

namespace csv = celeriac::csv;

namespace {

std::string generate(std::size_t rows) {
  static const char* const plain[] = {"Starbucks Store #1234 Seattle", "AMAZON MKTPLACE PMTS WA",
                                      "Shell Oil 57442 Houston TX",    "Uber Trip Help.Uber.com",
                                      "Netflix.com Los Gatos",         "Whole Foods Market #10233",
                                      "Delta Air Lines Atlanta",       "Spotify USA New York"};
  static const char* const quoted[] = {"\"Joe's Pizza, Downtown\"", "\"The \"\"Best\"\" Bagels\"",
                                       "\"McDonald's, Inc.\"", "\"Ben & Jerry's \"\"Scoop\"\" Shop, NYC\"",
                                       "\"Line one\nline two\""};
  static const char* const unicode[] = {"Café Müller",      "東京ラーメン 新宿",     "Škoda Auto",
                                        "Crème Brûlée Co.", "\"Zoë's Café, Paris\"", "Пекарня Хлеб",
                                        "🍕 Slice House"};
  static const char* const categories[] = {"Food & Drink",     "Groceries",        "Transportation",   "Entertainment",
                                           "Travel & Lodging", "General Shopping", "Utilities & Bills"};
  static const char* const tickers[] = {"SBUX", "AMZN", "SHEL", "UBER", "NFLX", "DAL", "SPOT"};
  std::mt19937_64 rng(42);
  std::string out = "merchant_name,category,ticker,confidence,user_id,created_at\n";
  out.reserve(rows * 90);
  for (std::size_t i = 0; i < rows; ++i) {
    const unsigned kind = rng() % 100;
    if (kind < 60) {
      out += plain[rng() % std::size(plain)];
    } else if (kind < 82) {
      out += quoted[rng() % std::size(quoted)];
    } else {
      out += unicode[rng() % std::size(unicode)];
    }
    out += ',';
    out += categories[rng() % std::size(categories)];
    out += ',';
    if (rng() % 100 < 40) out += tickers[rng() % std::size(tickers)];
    fmt::format_to(std::back_inserter(out), ",{:.4f},{},2024-{:02}-{:02}T{:02}:{:02}:{:02}", (rng() % 10001) / 10000.0,
                   rng() % 1'000'000'000, 1 + rng() % 12, 1 + rng() % 28, rng() % 24, rng() % 60, rng() % 60);
    if (rng() % 2 == 0) fmt::format_to(std::back_inserter(out), ".{:06}", rng() % 1'000'000);
    out += (rng() % 3 == 0) ? "Z" : "+02:00";
    out += '\n';
  }
  return out;
}

enum class stage { parse, validate, encode };

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct outcome {
  double seconds = 0;  // CPU
  double wall_seconds = 0;
  std::size_t rows = 0;
  std::size_t rejected = 0;
  std::size_t copy_bytes = 0;
};

outcome run(const std::string& data, stage s) {
  const csv::import_profile& profile = *csv::find_profile("llm_mappings");
  csv::memory_source source(data);
  csv::reader rd(source, csv::reader_config{});
  std::vector<csv::value> values;
  csv::copy_encoder encoder;
  outcome o;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  encoder.write_header();
  while (const csv::record* rec = rd.next()) {
    if (rec->is_header) {
      if (!csv::check_header(*rec, profile)) std::abort();
      continue;
    }
    ++o.rows;
    if (s == stage::parse) {
      o.rejected += !rec->ok();
      continue;
    }
    if (!csv::validate(*rec, profile, values)) {
      ++o.rejected;
      continue;
    }
    if (s == stage::encode) {
      encoder.write_row(values);
      if (encoder.size() >= (1u << 20)) {
        o.copy_bytes += encoder.size();
        encoder.clear();
      }
    }
  }
  encoder.write_trailer();
  o.copy_bytes += encoder.size();
  o.seconds = cpu_seconds() - cpu_start;
  o.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return o;
}

// Best CPU seconds of `rounds` scans for 4 parts' split points.
double split_seconds(const std::string& data, int rounds) {
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    csv::memory_source source(data);
    const double start = cpu_seconds();
    const auto points = csv::find_split_points(source, data.size(), 4, ',');
    const double took = cpu_seconds() - start;
    if (points.size() != 3) std::abort();
    if (r == 0 || took < best) best = took;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  const std::string only = argc > 3 ? argv[3] : "all";
  const std::string data = generate(rows);
  if (argc > 4) {
    std::FILE* out = std::fopen(argv[4], "wb");
    if (out == nullptr || std::fwrite(data.data(), 1, data.size(), out) != data.size() || std::fclose(out) != 0) {
      fmt::print(stderr, "cannot write {}\n", argv[4]);
      return 1;
    }
  }
  fmt::print("{} llm_mappings rows, {:.1f} MB ({:.1f} bytes/row), best of {} rounds\n", rows, data.size() / 1e6,
             static_cast<double>(data.size()) / static_cast<double>(rows), rounds);
  for (const auto& [s, label] : {std::pair{stage::parse, "parse"}, std::pair{stage::validate, "parse+validate"},
                                 std::pair{stage::encode, "parse+validate+encode"}}) {
    if (only != "all" && !std::string_view(label).ends_with(only)) continue;
    outcome best;
    for (int r = 0; r < rounds; ++r) {
      const outcome o = run(data, s);
      if (r == 0 || o.seconds < best.seconds) best = o;
    }
    fmt::print(
        "{:<22} {:>6.2f} M rows/s {:>7.1f} MB/s {:>6.0f} ns/row  (wall: {:.2f} M rows/s; {} rows, {} rejected{})\n",
        label, static_cast<double>(best.rows) / best.seconds / 1e6,
        static_cast<double>(data.size()) / best.seconds / 1e6, best.seconds * 1e9 / static_cast<double>(best.rows),
        static_cast<double>(best.rows) / best.wall_seconds / 1e6, best.rows, best.rejected,
        s == stage::encode ? fmt::format(", {:.1f} MB of COPY data", best.copy_bytes / 1e6) : "");
  }
  if (only == "all" || only == "split") {
    const double seconds = split_seconds(data, rounds);
    const double scanned = static_cast<double>(data.size()) * 0.75;
    fmt::print("{:<22} {:>6.1f} ms for 3/4 of the file {:>7.1f} MB/s\n", "split points (4 parts)", seconds * 1e3,
               scanned / seconds / 1e6);
  }
}
