// libFuzzer target for the CSV import's pure half: reader, validator, COPY
// encoder. Beyond "no crash, no sanitizer report" it checks the promises the
// import job builds on:
//   1. the reader agrees with a slow byte-by-byte reference of the grammar
//      in reader.hpp (record extents, lines, offsets, errors, fields);
//   2. how bytes arrive (chunk sizes, buffer size) never changes a record;
//   3. resuming at a record's checkpoint yields exactly the rest;
//   4. every validated row encodes to a binary COPY tuple that decodes back
//      to the same values; every parsed timestamp formats and parses back;
//   5. split points (parallel imports) are exactly the reader's boundaries,
//      and the parts read each by its own reader give the whole file's
//      records.
//
// Input layout: 5 option bytes, then the CSV bytes.
//   [0] bits 0-1 delimiter (',' ';' '\t' '|'), bit 2 header, bit 3 BOM
//       prefix, bits 4-7 which record to resume after
//   [1] bit 7 set: max_record_bytes = 1 + 4 * (bits 0-5), else 1 MiB
//   [2] buffer_bytes = 4 + value (small, so records cross refills; the
//       unit tests cover the 1 MiB default)
//   [3] read chunk = 1 + value % 32 (whole input when >= 224)
//   [4] bit 0 profile: llm_mappings or one column of every type;
//       bit 1: also parse the CSV bytes as a column spec;
//       bits 2-4: split into 2 + value parts

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "csv/column_spec.hpp"
#include "csv/copy_encoder.hpp"
#include "csv/profile.hpp"
#include "csv/reader.hpp"
#include "csv/split_points.hpp"
#include "csv/timestamp.hpp"
#include "csv/utf8.hpp"
#include "csv/validate.hpp"

namespace csv = celeriac::csv;

namespace {

#define FUZZ_CHECK(cond)                                                         \
  do {                                                                           \
    if (!(cond)) {                                                               \
      __builtin_printf("check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                              \
    }                                                                            \
  } while (0)

struct owned {
  std::vector<std::string> fields;
  std::vector<bool> quoted;
  std::string raw;
  std::uint64_t line = 0, next_line = 0, offset = 0, end_offset = 0, error_offset = 0;
  bool is_header = false;
  csv::record_error error = csv::record_error::none;
  std::string message;
  bool operator==(const owned&) const = default;
};

owned own(const csv::record& r) {
  owned o;
  for (const csv::field& f : r.fields) {
    o.fields.emplace_back(f.text);
    o.quoted.push_back(f.quoted);
  }
  o.raw = std::string(r.raw);
  o.line = r.line;
  o.next_line = r.next_line;
  o.offset = r.offset;
  o.end_offset = r.end_offset;
  o.error_offset = r.error_offset;
  o.is_header = r.is_header;
  o.error = r.error;
  o.message = std::string(r.message);
  return o;
}

std::vector<owned> parse(std::string_view data, const csv::reader_config& c, std::size_t chunk) {
  csv::memory_source source(data.substr(c.start_offset), chunk);
  csv::reader rd(source, c);
  std::vector<owned> out;
  while (const csv::record* r = rd.next()) out.push_back(own(*r));
  FUZZ_CHECK(rd.offset() == data.size());
  return out;
}

// ---------------------------------------------------------------------------
// Reference parser: the grammar of reader.hpp, one byte at a time
// ---------------------------------------------------------------------------

bool structural(csv::record_error e) {
  return e != csv::record_error::none && e != csv::record_error::invalid_utf8 && e != csv::record_error::field_count;
}

std::vector<owned> reference(std::string_view all, const csv::reader_config& c) {
  const std::string_view d = all.substr(c.start_offset);
  const std::size_t n = d.size();
  const char delim = c.delimiter;
  std::size_t i = (c.start_offset == 0 && d.starts_with("\xEF\xBB\xBF")) ? 3 : 0;
  std::uint64_t line = c.start_line;
  std::size_t field_count = c.field_count;
  bool header_pending = c.header && c.start_offset == 0;
  std::vector<owned> out;
  for (;;) {
    while (i < n && (d[i] == '\n' || (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n'))) {
      i += d[i] == '\n' ? 1 : 2;
      ++line;
    }
    if (i == n) break;
    owned r;
    const std::size_t start = i;
    enum { field_start, unquoted, quoted, quote_seen } state = field_start;
    std::string cur;
    bool cur_quoted = false;
    std::size_t open = 0, term = 0;
    std::uint64_t lines = 0;
    auto fail = [&](csv::record_error e, std::size_t at) {
      if (r.error == csv::record_error::none) {
        r.error = e;
        r.error_offset = c.start_offset + at;
      }
    };
    auto push = [&] {
      r.fields.push_back(cur);
      r.quoted.push_back(cur_quoted);
      cur.clear();
      cur_quoted = false;
    };
    for (;;) {
      if (i == n) {
        if (state == quoted) fail(csv::record_error::unterminated_quote, open);
        push();
        break;
      }
      const char ch = d[i];
      if (state == field_start) {
        if (ch == '"') {
          state = quoted;
          cur_quoted = true;
          open = i++;
        } else {
          state = unquoted;
        }
        continue;
      }
      if (state == quoted) {
        if (ch == '"') {
          state = quote_seen;
        } else {
          lines += ch == '\n';
          cur += ch;
        }
        ++i;
        continue;
      }
      // unquoted or quote_seen: terminators first.
      if (ch == delim) {
        push();
        state = field_start;
        ++i;
        continue;
      }
      if (ch == '\n' || (ch == '\r' && i + 1 < n && d[i + 1] == '\n')) {
        term = ch == '\n' ? 1 : 2;
        i += term;
        ++lines;
        push();
        break;
      }
      if (state == quote_seen) {
        if (ch == '"') {
          cur += '"';
          state = quoted;
          ++i;
          continue;
        }
        fail(ch == '\r' ? csv::record_error::bare_carriage_return : csv::record_error::stray_quote, i);
        state = unquoted;
        continue;
      }
      if (ch == '\r') fail(csv::record_error::bare_carriage_return, i);
      if (ch == '"') fail(csv::record_error::stray_quote, i);
      cur += ch;
      ++i;
    }
    r.line = line;
    r.next_line = line + lines;
    line = r.next_line;
    r.offset = c.start_offset + start;
    r.end_offset = c.start_offset + i;
    r.raw = std::string(d.substr(start, i - start - term));
    if (i - start > c.max_record_bytes) {
      r.error = csv::record_error::too_large;
      r.error_offset = r.offset;
      r.fields.clear();
      r.quoted.clear();
      r.raw.resize(std::min<std::size_t>({r.raw.size(), c.max_record_bytes, 64 * 1024}));
    }
    r.is_header = header_pending;
    header_pending = false;
    if (r.error == csv::record_error::none) {
      const std::size_t bad = csv::find_invalid_utf8(r.raw);
      if (bad != std::string_view::npos) {
        r.error = csv::record_error::invalid_utf8;
        r.error_offset = r.offset + bad;
      }
    }
    if (r.error != csv::record_error::too_large) {
      if (field_count == 0) {
        field_count = r.fields.size();
      } else if (r.fields.size() != field_count && r.error == csv::record_error::none) {
        r.error = csv::record_error::field_count;
        r.error_offset = r.offset;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

void compare_with_reference(const std::vector<owned>& got, const std::vector<owned>& want) {
  FUZZ_CHECK(got.size() == want.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    const owned& g = got[k];
    const owned& w = want[k];
    FUZZ_CHECK(g.line == w.line);
    FUZZ_CHECK(g.next_line == w.next_line);
    FUZZ_CHECK(g.offset == w.offset);
    FUZZ_CHECK(g.end_offset == w.end_offset);
    FUZZ_CHECK(g.is_header == w.is_header);
    FUZZ_CHECK(g.error == w.error);
    FUZZ_CHECK(g.error_offset == w.error_offset);
    FUZZ_CHECK(g.raw == w.raw);
    FUZZ_CHECK(g.message.empty() == (g.error == csv::record_error::none));
    if (!structural(g.error)) {
      FUZZ_CHECK(g.fields == w.fields);
      FUZZ_CHECK(g.quoted == w.quoted);
    }
  }
}

// ---------------------------------------------------------------------------
// Split points
// ---------------------------------------------------------------------------

// Checks find_split_points against the reader's records `full` (parsed
// with config c): each point is just after a line feed, at or after the
// first record's end, inside no record, the first such at or after its
// target; and reading the parts gives `full`.
void check_split_points(std::string_view data, const csv::reader_config& c, const std::vector<owned>& full,
                        std::size_t parts, std::size_t chunk) {
  csv::memory_source source(data, chunk);
  const std::vector<csv::split_point> points = csv::find_split_points(source, data.size(), parts, c.delimiter);
  FUZZ_CHECK(points.size() < parts);
  std::size_t k = 1;          // next target
  std::size_t record = 0;     // first record ending after the position
  std::uint64_t line = 1;
  std::size_t next_point = 0;
  for (std::uint64_t p = 1; p < data.size() && !full.empty(); ++p) {
    if (data[p - 1] != '\n') continue;
    ++line;
    while (record < full.size() && full[record].end_offset <= p) ++record;
    const bool inside = record < full.size() && full[record].offset < p;
    if (inside || p < full.front().end_offset || k >= parts || p < data.size() * k / parts) continue;
    FUZZ_CHECK(next_point < points.size());
    FUZZ_CHECK(points[next_point].offset == p && points[next_point].line == line);
    ++next_point;
    while (k < parts && data.size() * k / parts <= p) ++k;
  }
  FUZZ_CHECK(next_point == points.size());
  std::vector<owned> joined;
  for (std::size_t i = 0; i <= points.size(); ++i) {
    csv::reader_config pc = c;
    if (i > 0) {
      pc.start_offset = points[i - 1].offset;
      pc.start_line = points[i - 1].line;
    }
    const std::uint64_t end = i < points.size() ? points[i].offset : data.size();
    csv::memory_source rest(data.substr(pc.start_offset), chunk);
    csv::bounded_source part(rest, end - pc.start_offset);
    csv::reader rd(part, pc);
    while (const csv::record* r = rd.next()) joined.push_back(own(*r));
    FUZZ_CHECK(rd.offset() == end);
  }
  FUZZ_CHECK(joined == full);
}

// ---------------------------------------------------------------------------
// Validation and COPY round trip
// ---------------------------------------------------------------------------

std::uint64_t get_be(const char*& p, int bytes) {
  std::uint64_t v = 0;
  for (int k = 0; k < bytes; ++k) v = (v << 8) | static_cast<unsigned char>(*p++);
  return v;
}

// Decodes the one tuple in `bytes` and checks it against `row`.
void check_tuple(std::string_view bytes, const std::vector<csv::value>& row) {
  const char* p = bytes.data();
  FUZZ_CHECK(get_be(p, 2) == row.size());
  for (const csv::value& v : row) {
    const auto len = static_cast<std::int32_t>(get_be(p, 4));
    switch (v.index()) {
      case 0: FUZZ_CHECK(len == -1); break;
      case 1:
        FUZZ_CHECK(len == 8);
        FUZZ_CHECK(static_cast<std::int64_t>(get_be(p, 8)) == std::get<std::int64_t>(v));
        break;
      case 2: {
        FUZZ_CHECK(len == 8);
        const double back = std::bit_cast<double>(get_be(p, 8));
        FUZZ_CHECK(std::memcmp(&back, &std::get<double>(v), 8) == 0);
        break;
      }
      case 3:
        FUZZ_CHECK(len == 1);
        FUZZ_CHECK(get_be(p, 1) == (std::get<bool>(v) ? 1u : 0u));
        break;
      case 4: {
        const std::string_view t = std::get<std::string_view>(v);
        FUZZ_CHECK(len == static_cast<std::int32_t>(t.size()));
        FUZZ_CHECK(std::string_view(p, t.size()) == t);
        FUZZ_CHECK(t.find('\0') == std::string_view::npos);
        FUZZ_CHECK(csv::find_invalid_utf8(t) == std::string_view::npos);
        p += t.size();
        break;
      }
      case 5: {
        FUZZ_CHECK(len == 8);
        const csv::timestamptz ts{static_cast<std::int64_t>(get_be(p, 8))};
        FUZZ_CHECK(ts == std::get<csv::timestamptz>(v));
        const auto again = csv::parse_timestamptz(csv::format_timestamptz(ts));
        FUZZ_CHECK(again.has_value() && *again == ts);
        break;
      }
    }
  }
  FUZZ_CHECK(p == bytes.data() + bytes.size());
}

void validate_and_encode(std::string_view data, const csv::reader_config& c, const csv::import_profile& profile) {
  csv::memory_source source(data);
  csv::reader rd(source, c);
  csv::copy_encoder encoder;
  encoder.write_header();
  FUZZ_CHECK(encoder.bytes() == csv::copy_header);
  std::vector<csv::value> row;
  while (const csv::record* r = rd.next()) {
    if (r->is_header) {
      (void)csv::check_header(*r, profile);
      continue;
    }
    for (const csv::field& f : r->fields) (void)csv::parse_timestamptz(f.text);
    const auto ok = csv::validate(*r, profile, row);
    if (!ok) {
      FUZZ_CHECK(!ok.error().reason.empty());
      FUZZ_CHECK(ok.error().column == csv::field_error::record_column || ok.error().column < profile.columns.size());
      continue;
    }
    FUZZ_CHECK(r->ok());
    for (std::size_t k = 0; k < row.size(); ++k) {
      const csv::column_spec& col = profile.columns[k];
      if (std::holds_alternative<std::monostate>(row[k])) FUZZ_CHECK(!col.not_null);
      if (const double* x = std::get_if<double>(&row[k])) {
        FUZZ_CHECK(std::isfinite(*x));
        FUZZ_CHECK(!col.min || *x >= *col.min);
        FUZZ_CHECK(!col.max || *x <= *col.max);
      }
      if (const auto* t = std::get_if<std::string_view>(&row[k]); t && col.max_length) {
        FUZZ_CHECK(csv::count_code_points(*t) <= col.max_length);
      }
    }
    const std::size_t before = encoder.size();
    encoder.write_row(row);
    check_tuple(encoder.bytes().substr(before), row);
    if (encoder.size() > 4096) encoder.clear();
  }
  encoder.write_trailer();
  FUZZ_CHECK(encoder.bytes().ends_with(csv::copy_trailer));
}

void fuzz_column_spec(std::string_view text) {
  const auto spec = csv::parse_column_spec(text);
  if (!spec) {
    FUZZ_CHECK(spec.error().message.starts_with("column spec: "));
    return;
  }
  FUZZ_CHECK(!spec->empty());
  for (const csv::column_spec& col : *spec) {
    FUZZ_CHECK(!col.name.empty());
    if (col.kind == csv::column_kind::enumeration) FUZZ_CHECK(!col.allowed.empty());
    if (col.min && col.max) FUZZ_CHECK(*col.min <= *col.max);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size < 5) return 0;
  static const char delimiters[] = {',', ';', '\t', '|'};
  static const csv::import_profile every_type = [] {
    csv::import_profile p;
    p.name = "fuzz";
    p.table = "fuzz";
    p.columns =
        csv::parse_column_spec("a:text(5)!,b:integer,c:float(0..1),d:boolean,e:timestamptz!,f:enum(x|y)").value();
    return p;
  }();

  csv::reader_config c;
  c.delimiter = delimiters[bytes[0] & 3];
  c.header = (bytes[0] & 4) != 0;
  c.max_record_bytes = (bytes[1] & 0x80) ? 1 + 4 * (bytes[1] & 0x3F) : std::size_t{1} << 20;
  c.buffer_bytes = 4 + bytes[2];
  const std::size_t chunk = bytes[3] >= 224 ? static_cast<std::size_t>(-1) : 1 + bytes[3] % 32;
  const std::size_t resume_pick = bytes[0] >> 4;
  const csv::import_profile& profile = (bytes[4] & 1) ? every_type : *csv::find_profile("llm_mappings");

  std::string data = (bytes[0] & 8) ? "\xEF\xBB\xBF" : "";
  data.append(reinterpret_cast<const char*>(bytes + 5), size - 5);
  if (bytes[4] & 2) fuzz_column_spec(data);

  // 1. Against the reference.
  const std::vector<owned> first = parse(data, c, static_cast<std::size_t>(-1));
  compare_with_reference(first, reference(data, c));

  // 2. Chunking and buffer size change nothing.
  csv::reader_config small = c;
  small.buffer_bytes = 4;
  FUZZ_CHECK(parse(data, c, chunk) == first);
  FUZZ_CHECK(parse(data, small, chunk) == first);

  // 3. Resume after one record gives the rest (with the field count fixed,
  // as a resuming job declares it).
  csv::reader_config declared = c;
  for (const owned& r : first) {
    if (r.error != csv::record_error::too_large) {
      declared.field_count = r.fields.size();
      break;
    }
  }
  if (!first.empty()) {
    const std::vector<owned> full = parse(data, declared, chunk);
    const std::size_t k = resume_pick % full.size();
    csv::reader_config resumed = declared;
    resumed.start_offset = full[k].end_offset;
    resumed.start_line = full[k].next_line;
    const std::vector<owned> tail(full.begin() + static_cast<std::ptrdiff_t>(k) + 1, full.end());
    FUZZ_CHECK(parse(data, resumed, chunk) == tail);

    // 5. Split points, with the same declared count.
    check_split_points(data, declared, full, 2 + ((bytes[4] >> 2) & 7), chunk);
  }

  // 4. Validation and the COPY round trip.
  validate_and_encode(data, c, profile);
  return 0;
}
