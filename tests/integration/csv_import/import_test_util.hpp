// Helpers for the celeriac.csv_import integration tests: a fresh migrated
// database, an upload folder, generated CSV files whose every bad record
// is known in advance, and queries on the results.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "pg/migrations.hpp"
#include "support/pg_server.hpp"
#include "tasks/csv_import/csv_importer.hpp"
#include "tasks/csv_import/import_request.hpp"

namespace celeriac::test {

// A new database on `server` with celeriac's tables and the app tables.
inline std::string migrated_database(pg_server& server, const std::string& prefix) {
  static std::atomic<int> counter{0};
  const std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  {
    pqxx::connection admin{server.url()};
    pqxx::nontransaction tx{admin};
    tx.exec("CREATE DATABASE " + tx.quote_name(name));
  }
  const std::string url = server.url(name);
  pqxx::connection c{url};
  pg::migrate(c, pg::migrate_options{.with_app_tables = true});
  return url;
}

inline void sql(const std::string& url, const std::string& statement) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  tx.exec(statement);
}

inline std::int64_t count(const std::string& url, const std::string& query) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  return tx.exec1(query)[0].as<std::int64_t>();
}

// A temporary upload folder, removed with its files.
class upload_dir {
public:
  upload_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "celeriac-upload-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = std::filesystem::canonical(pattern);
  }
  ~upload_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream out(path_ / name, std::ios::binary);
    out << content;
  }

private:
  std::filesystem::path path_;
};

// One record the import must refuse.
struct expected_error {
  std::uint64_t line;
  std::string column;  // "" when the record as a whole is wrong
  std::string kind;    // what the generator did (for messages)
};

// An llm_mappings file: good rows carry user_id = their index, so the
// table's content can be checked exactly; bad records are spread through
// it, one of each kind in turn.
struct generated_file {
  std::string content;
  std::uint64_t good_rows = 0;
  std::set<std::int64_t> good_user_ids;
  std::vector<expected_error> errors;  // in line order
  std::map<std::string, std::int64_t> last_by_name;  // for upsert checks: merchant_name -> user_id of its last row
};

struct generate_options {
  std::size_t records = 1000;
  std::size_t bad_every = 100;  // every Nth record is bad (0: none)
  bool too_large = false;       // one record over the reader's 16 MiB limit
  bool unterminated_at_end = false;
  bool forbidden = true;        // include rows a CHECK constraint on the server refuses
  std::size_t name_cycle = 0;   // >0: merchant names repeat with this period (upsert)
};

// The kinds of bad record, in the order they are spread through the file.
inline const std::vector<std::string>& bad_kinds() {
  static const std::vector<std::string> kinds = {
      "too_few_fields", "too_many_fields", "stray_quote",   "bare_cr",         "invalid_utf8",  "null_name",
      "confidence_range", "confidence_text", "user_id_text", "user_id_overflow", "bad_date",    "no_offset",
      "category_too_long", "nul_byte",       "null_created", "forbidden"};
  return kinds;
}

inline generated_file generate(const generate_options& o) {
  generated_file f;
  f.content = "merchant_name,category,ticker,confidence,user_id,created_at\n";
  std::uint64_t line = 2;
  std::size_t bad_seen = 0;
  const auto& kinds = bad_kinds();
  for (std::size_t i = 0; i < o.records; ++i) {
    const std::uint64_t start = line;
    std::string rec;
    const bool last = i + 1 == o.records;
    if (o.unterminated_at_end && last) {
      rec = "\"Unterminated " + std::to_string(i) + ",Food,,0.5,1,2024-01-01T00:00:00Z\n";
      f.errors.push_back({start, "", "unterminated_quote"});
    } else if (o.too_large && i == o.records / 2) {
      rec = std::string((16u << 20) + 100, 'x') + ",Food,,0.5,1,2024-01-01T00:00:00Z\n";
      f.errors.push_back({start, "", "too_large"});
    } else if (o.bad_every && i % o.bad_every == o.bad_every / 2) {
      std::string kind = kinds[bad_seen++ % kinds.size()];
      if (kind == "forbidden" && !o.forbidden) kind = "null_name";
      const std::string n = std::to_string(i);
      std::string column = "";
      if (kind == "too_few_fields") rec = "Merchant " + n + ",Food,,0.5," + n + "\n";
      else if (kind == "too_many_fields") rec = "Merchant " + n + ",Food,,0.5," + n + ",2024-01-01T00:00:00Z,extra\n";
      else if (kind == "stray_quote") rec = "Mer\"chant " + n + ",Food,,0.5," + n + ",2024-01-01T00:00:00Z\n";
      else if (kind == "bare_cr") rec = "Merchant\r" + n + ",Food,,0.5," + n + ",2024-01-01T00:00:00Z\n";
      else if (kind == "invalid_utf8") rec = "Merch\xff" + n + ",Food,,0.5," + n + ",2024-01-01T00:00:00Z\n";
      else if (kind == "null_name") { rec = ",Food,,0.5," + n + ",2024-01-01T00:00:00Z\n"; column = "merchant_name"; }
      else if (kind == "confidence_range") { rec = "Merchant " + n + ",Food,,1.5," + n + ",2024-01-01T00:00:00Z\n"; column = "confidence"; }
      else if (kind == "confidence_text") { rec = "Merchant " + n + ",Food,,high," + n + ",2024-01-01T00:00:00Z\n"; column = "confidence"; }
      else if (kind == "user_id_text") { rec = "Merchant " + n + ",Food,,0.5,12x,2024-01-01T00:00:00Z\n"; column = "user_id"; }
      else if (kind == "user_id_overflow") { rec = "Merchant " + n + ",Food,,0.5,99999999999999999999,2024-01-01T00:00:00Z\n"; column = "user_id"; }
      else if (kind == "bad_date") { rec = "Merchant " + n + ",Food,,0.5," + n + ",2024-13-01T00:00:00Z\n"; column = "created_at"; }
      else if (kind == "no_offset") { rec = "Merchant " + n + ",Food,,0.5," + n + ",2024-01-01T00:00:00\n"; column = "created_at"; }
      else if (kind == "category_too_long") { rec = "Merchant " + n + "," + std::string(201, 'c') + ",,0.5," + n + ",2024-01-01T00:00:00Z\n"; column = "category"; }
      else if (kind == "nul_byte") { rec = std::string("Mer\0chant ", 10) + n + ",Food,,0.5," + n + ",2024-01-01T00:00:00Z\n"; column = "merchant_name"; }
      else if (kind == "null_created") { rec = "Merchant " + n + ",Food,,0.5," + n + ",\n"; column = "created_at"; }
      else if (kind == "forbidden") { rec = "FORBIDDEN " + n + ",Food,,0.5," + n + ",2024-01-01T00:00:00Z\n"; column = ""; }
      f.errors.push_back({start, column, kind});
    } else {
      // A good row; some have a line break inside a quoted name, which
      // shifts every later line number by one.
      std::string name = o.name_cycle ? "Shop " + std::to_string(i % o.name_cycle) : "Merchant " + std::to_string(i);
      std::string field = name;
      if (!o.name_cycle && i % 37 == 5) {
        name = "Line one\nline two " + std::to_string(i);
        field = "\"" + name + "\"";
      } else if (!o.name_cycle && i % 41 == 7) {
        name = "Joe's \"Pizza\", " + std::to_string(i);
        field = "\"Joe's \"\"Pizza\"\", " + std::to_string(i) + "\"";
      }
      rec = field + ",Food," + (i % 3 ? "SBUX" : "") + ",0." + std::to_string(i % 10) + "," + std::to_string(i) +
            ",2024-05-01T10:00:00." + std::to_string(100000 + i % 900000) + "+02:00\n";
      ++f.good_rows;
      f.good_user_ids.insert(static_cast<std::int64_t>(i));
      f.last_by_name[name] = static_cast<std::int64_t>(i);
    }
    for (char ch : rec) line += ch == '\n';
    f.content += rec;
  }
  return f;
}

// An importer_config for `file` in `dir`, into llm_mappings.
inline tasks::importer_config llm_config(const std::string& task_id, const std::string& url, const upload_dir& dir,
                                         const std::string& file, std::size_t chunk_rows, std::uint64_t max_errors) {
  tasks::importer_config cfg;
  cfg.task_id = task_id;
  cfg.database_url = url;
  cfg.upload_dir = dir.path();
  cfg.request.path = file;
  cfg.request.profile = *csv::find_profile("llm_mappings");
  cfg.request.table_parts = {"llm_mappings"};
  cfg.request.chunk_rows = chunk_rows;
  cfg.request.max_errors = max_errors;
  cfg.reconnect_budget = std::chrono::seconds(30);
  return cfg;
}

// The user ids in llm_mappings, with how often each appears.
inline std::map<std::int64_t, int> user_id_counts(const std::string& url) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  std::map<std::int64_t, int> out;
  for (const auto& row : tx.exec("SELECT user_id, count(*) FROM llm_mappings GROUP BY user_id"))
    out[row[0].as<std::int64_t>()] = row[1].as<int>();
  return out;
}

// Checks that llm_mappings holds exactly the file's good rows, once each.
inline bool holds_exactly(const std::string& url, const generated_file& f, std::string& why) {
  const auto counts = user_id_counts(url);
  std::size_t dup = 0, missing = 0, extra = 0;
  for (const auto& [id, n] : counts) {
    if (n > 1) ++dup;
    if (!f.good_user_ids.count(id)) ++extra;
  }
  for (std::int64_t id : f.good_user_ids)
    if (!counts.count(id)) ++missing;
  why = "duplicated user ids: " + std::to_string(dup) + ", missing: " + std::to_string(missing) +
        ", unexpected: " + std::to_string(extra);
  return dup == 0 && missing == 0 && extra == 0;
}

}  // namespace celeriac::test
