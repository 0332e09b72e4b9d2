#include "csv/reader.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include "csv/utf8.hpp"

namespace celeriac::csv {

namespace {

// Bytes after the buffer's end that the 16-byte scans may read (never use).
constexpr std::size_t padding = 64;
// How much of a too-large record is kept as its raw bytes.
constexpr std::size_t too_large_raw_bytes = 64 * 1024;
// Smallest buffer: enough to see a whole byte order mark in the first fill.
constexpr std::size_t min_buffer_bytes = 4;

// ---------------------------------------------------------------------------
// Scanning primitives
// ---------------------------------------------------------------------------

// First byte in [p, end) that ends an unquoted run: the delimiter, '"', LF
// or CR; end if none. Reads up to 15 bytes past end (the buffer's padding).
inline const char* find_special(const char* p, const char* end, char delimiter) noexcept {
#if defined(__SSE2__)
  const __m128i d = _mm_set1_epi8(delimiter);
  const __m128i q = _mm_set1_epi8('"');
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  while (p < end) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, d), _mm_cmpeq_epi8(x, q)),
                                     _mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr)));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) {
      p += __builtin_ctz(mask);
      return p < end ? p : end;
    }
    p += 16;
  }
  return end;
#else
  for (; p < end; ++p) {
    const char c = *p;
    if (c == delimiter || c == '"' || c == '\n' || c == '\r') return p;
  }
  return end;
#endif
}

// Length of the longest prefix of [p, end) that is valid UTF-8 (a sequence
// cut by `end` counts as invalid).
inline std::size_t valid_utf8_prefix(const char* p, const char* end) noexcept {
  const std::string_view bytes(p, static_cast<std::size_t>(end - p));
  const std::size_t bad = find_invalid_utf8(bytes);
  return bad == std::string_view::npos ? bytes.size() : bad;
}

inline std::uint64_t count_lf(const char* p, const char* end) noexcept {
  std::uint64_t n = 0;
  while (p < end) {
    const auto* hit = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (hit == nullptr) break;
    ++n;
    p = hit + 1;
  }
  return n;
}

// 1-based column of the byte at raw[pos], following the grammar's quoting
// (for error messages only).
std::size_t column_at(std::string_view raw, std::size_t pos, char delimiter) noexcept {
  enum { field_start, unquoted, quoted, quote_seen } state = field_start;
  std::size_t column = 1;
  for (std::size_t i = 0; i < pos && i < raw.size(); ++i) {
    const char c = raw[i];
    switch (state) {
      case field_start:
        if (c == '"') {
          state = quoted;
        } else if (c == delimiter) {
          ++column;
        } else {
          state = unquoted;
        }
        break;
      case unquoted:
        if (c == delimiter) {
          ++column;
          state = field_start;
        }
        break;
      case quoted:
        if (c == '"') state = quote_seen;
        break;
      case quote_seen:
        if (c == '"') {
          state = quoted;
        } else if (c == delimiter) {
          ++column;
          state = field_start;
        } else {
          state = unquoted;
        }
        break;
    }
  }
  return column;
}

void check_config(const reader_config& config) {
  const char d = config.delimiter;
  if (d == '"' || d == '\n' || d == '\r' || static_cast<unsigned char>(d) >= 0x80) {
    throw std::invalid_argument(
        fmt::format("CSV delimiter byte 0x{:02X} cannot be used: it must be one ASCII byte other than '\"', CR and LF",
                    static_cast<unsigned char>(d)));
  }
  if (config.max_record_bytes == 0) {
    throw std::invalid_argument("CSV max_record_bytes is 0: give the longest record to accept, in bytes");
  }
  if (config.start_line == 0) {
    throw std::invalid_argument("CSV start_line is 0: lines are numbered from 1");
  }
}

}  // namespace

std::string_view to_string(record_error e) noexcept {
  switch (e) {
    case record_error::none: return "none";
    case record_error::too_large: return "too_large";
    case record_error::unterminated_quote: return "unterminated_quote";
    case record_error::stray_quote: return "stray_quote";
    case record_error::bare_carriage_return: return "bare_carriage_return";
    case record_error::invalid_utf8: return "invalid_utf8";
    case record_error::field_count: return "field_count";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// Reader API
// ---------------------------------------------------------------------------

reader::reader(byte_source& source, const reader_config& config) : source_(source), config_(config) {
  check_config(config_);
  config_.buffer_bytes = std::max(config_.buffer_bytes, min_buffer_bytes);
  base_ = config_.start_offset;
  line_ = config_.start_line;
  field_count_ = config_.field_count;
  field_count_from_header_ = config_.field_count != 0 && config_.field_count_from_header;
  header_pending_ = config_.header && config_.start_offset == 0;
}

reader::~reader() = default;

std::uint64_t reader::offset() const noexcept { return absolute(pos_); }

const record* reader::next() {
  if (!started_) {
    started_ = true;
    cap_ = config_.buffer_bytes;
    buf_.reset(new char[cap_ + padding]());
    pos_ = end_ = buf_.get();
    refill();
    if (config_.start_offset == 0 && end_ - pos_ >= 3 && std::memcmp(pos_, "\xEF\xBB\xBF", 3) == 0) {
      pos_ += 3;
    }
  }
  for (;;) {
    switch (parse_record()) {
      case scan::complete: return &rec_;
      case scan::end_of_data: return nullptr;
      case scan::need_more: break;
    }
    // parse_record left pos_ at the start of the unfinished record.
    if (static_cast<std::size_t>(end_ - pos_) > config_.max_record_bytes) {
      start_skip();
      return &rec_;
    }
    refill();
  }
}

std::uint64_t reader::absolute(const char* p) const noexcept {
  return base_ + static_cast<std::uint64_t>(p - buf_.get());
}

// ---------------------------------------------------------------------------
// Buffer
// ---------------------------------------------------------------------------

// Moves the unconsumed bytes to the front (growing the buffer when they
// fill it, shrinking it back after a large record), then reads until the
// buffer is full or the source ends. Reading to full bounds how often a
// record is re-scanned from its start when a source returns small chunks.
bool reader::refill() {
  if (eof_) return false;
  const auto keep = static_cast<std::size_t>(end_ - pos_);
  std::size_t want = cap_;
  if (keep == cap_) {
    // Only reached while keep <= max_record_bytes (next() skips larger
    // records), so this always makes room: up to one byte more than the
    // limit, enough to tell that a record is over it.
    const std::size_t most = std::max(config_.max_record_bytes, config_.max_record_bytes + 1);
    want = std::min(cap_ * 2, most);
  } else if (cap_ > config_.buffer_bytes && keep <= config_.buffer_bytes / 2) {
    want = config_.buffer_bytes;
  }
  if (want != cap_) {
    std::unique_ptr<char[]> bigger(new char[want + padding]());
    std::memcpy(bigger.get(), pos_, keep);
    base_ = absolute(pos_);
    buf_ = std::move(bigger);
    cap_ = want;
  } else if (pos_ != buf_.get()) {
    std::memmove(buf_.get(), pos_, keep);
    base_ = absolute(pos_);
  }
  char* const begin = buf_.get();
  pos_ = begin;
  char* end = begin + keep;
  bool got = false;
  while (end < begin + cap_) {
    const std::size_t n = source_.read(end, static_cast<std::size_t>(begin + cap_ - end));
    if (n == 0) {
      eof_ = true;
      break;
    }
    end += n;
    got = true;
  }
  end_ = end;
  utf8_checked_end_ = pos_ + valid_utf8_prefix(pos_, end_);
  return got;
}

// ---------------------------------------------------------------------------
// Record parsing (the fast path)
// ---------------------------------------------------------------------------

// Parses the record at pos_ (after skipping blank lines). Returns
// need_more, leaving pos_ at the record start and nothing else changed
// that matters, when the buffer ends before the record does and the
// source has not ended; the record is then parsed again from its start.
reader::scan reader::parse_record() {
  const char* p = pos_;
  for (;;) {
    if (p == end_) {
      pos_ = p;
      return eof_ ? scan::end_of_data : scan::need_more;
    }
    if (*p == '\n') {
      ++line_;
      ++p;
      continue;
    }
    if (*p == '\r') {
      if (p + 1 == end_ && !eof_) {
        pos_ = p;
        return scan::need_more;
      }
      if (p + 1 < end_ && p[1] == '\n') {
        ++line_;
        p += 2;
        continue;
      }
    }
    break;
  }
  pos_ = p;
  const char* const start = p;
  fields_.clear();
  owned_.clear();
  arena_.clear();
  rec_.error = record_error::none;
  rec_.error_offset = 0;
  rec_lines_ = 0;
  term_len_ = 0;
  for (;;) {
    const field_end e = (p < end_ && *p == '"') ? scan_quoted(p) : scan_unquoted(p, p);
    if (e == field_end::need_more) return scan::need_more;
    if (e == field_end::record) break;
  }
  finish_record(start, p);
  return scan::complete;
}

// Scans an unquoted field (or the rest of a field after an error) that
// began at field_begin; p is where scanning resumes, left after the
// delimiter or line terminator that ends it.
[[gnu::always_inline]] inline reader::field_end reader::scan_unquoted(const char* field_begin, const char*& p) {
  const char delimiter = config_.delimiter;
  for (;;) {
    p = find_special(p, end_, delimiter);
    if (p == end_) {
      if (!eof_) return field_end::need_more;
      push_field(field_begin, p, false);
      return field_end::record;
    }
    const char c = *p;
    if (c == delimiter) {
      push_field(field_begin, p, false);
      ++p;
      return field_end::delimiter;
    }
    if (c == '\n') {
      push_field(field_begin, p, false);
      ++p;
      ++rec_lines_;
      term_len_ = 1;
      return field_end::record;
    }
    if (c == '\r') {
      if (p + 1 == end_) {
        if (!eof_) return field_end::need_more;
      } else if (p[1] == '\n') {
        push_field(field_begin, p, false);
        p += 2;
        ++rec_lines_;
        term_len_ = 2;
        return field_end::record;
      }
      set_error(record_error::bare_carriage_return, p);
    } else {
      set_error(record_error::stray_quote, p);
    }
    ++p;
  }
}

// Scans a quoted field; p is at its opening quote.
reader::field_end reader::scan_quoted(const char*& p) {
  const char* const open = p;
  ++p;
  const char* segment = p;  // unescaped text not yet copied to arena_
  const std::size_t arena_begin = arena_.size();
  bool owned = false;
  auto push = [&](const char* segment_end) {
    if (owned) {
      arena_.append(segment, segment_end);
      owned_.push_back({fields_.size(), arena_begin, arena_.size() - arena_begin});
      fields_.push_back(field{{}, true});
    } else {
      push_field(segment, segment_end, true);
    }
  };
  for (;;) {
    const auto* q = static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end_ - p)));
    if (q == nullptr) {
      if (!eof_) return field_end::need_more;
      rec_lines_ += count_lf(p, end_);
      set_error(record_error::unterminated_quote, open);
      push(end_);
      p = end_;
      return field_end::record;
    }
    rec_lines_ += count_lf(p, q);
    if (q + 1 == end_ && !eof_) return field_end::need_more;
    if (q + 1 < end_ && q[1] == '"') {
      arena_.append(segment, q + 1);
      owned = true;
      p = q + 2;
      segment = p;
      continue;
    }
    push(q);
    p = q + 1;
    break;
  }
  if (p == end_) return eof_ ? field_end::record : field_end::need_more;
  const char c = *p;
  if (c == config_.delimiter) {
    ++p;
    return field_end::delimiter;
  }
  if (c == '\n') {
    ++p;
    ++rec_lines_;
    term_len_ = 1;
    return field_end::record;
  }
  if (c == '\r') {
    if (p + 1 == end_) {
      if (!eof_) return field_end::need_more;
    } else if (p[1] == '\n') {
      p += 2;
      ++rec_lines_;
      term_len_ = 2;
      return field_end::record;
    }
  }
  // Something after the closing quote: the field goes on as unquoted text.
  set_error(c == '\r' ? record_error::bare_carriage_return : record_error::stray_quote, p);
  fields_.pop_back();
  if (owned) owned_.pop_back();
  return scan_unquoted(open, p);
}

inline void reader::push_field(const char* begin, const char* end, bool quoted) {
  fields_.push_back(field{std::string_view(begin, static_cast<std::size_t>(end - begin)), quoted});
}

inline void reader::set_error(record_error e, const char* at) noexcept {
  if (rec_.error == record_error::none) {
    rec_.error = e;
    rec_.error_offset = absolute(at);
  }
}

void reader::finish_record(const char* start, const char* p) {
  for (const owned_field& o : owned_) {
    fields_[o.index].text = std::string_view(arena_.data() + o.offset, o.size);
  }
  const auto size = static_cast<std::size_t>(p - start);
  rec_.line = line_;
  rec_.next_line = line_ + rec_lines_;
  rec_.offset = absolute(start);
  rec_.end_offset = absolute(p);
  rec_.raw = std::string_view(start, size - term_len_);
  if (size > config_.max_record_bytes) {
    rec_.error = record_error::too_large;
    rec_.error_offset = rec_.offset;
    rec_.raw = rec_.raw.substr(0, std::min(config_.max_record_bytes, too_large_raw_bytes));
    fields_.clear();
  }
  rec_.fields = std::span<const field>(fields_);
  pos_ = p;
  line_ = rec_.next_line;
  check_record();
}

// Record-level checks once the record's extent is known: UTF-8, the
// header flag, the field count; then the error message.
void reader::check_record() {
  rec_.is_header = header_pending_;
  header_pending_ = false;
  // Whole buffers are checked at once after each read; a record is looked
  // at alone only when it reaches past the valid prefix found there (it
  // holds the bad byte, or follows one), and the check then moves on.
  if (rec_.error == record_error::none && rec_.raw.data() + rec_.raw.size() > utf8_checked_end_) {
    const std::size_t bad = find_invalid_utf8(rec_.raw);
    if (bad != std::string_view::npos) {
      rec_.error = record_error::invalid_utf8;
      rec_.error_offset = rec_.offset + bad;
    }
    utf8_checked_end_ = pos_ + valid_utf8_prefix(pos_, end_);
  }
  if (rec_.error != record_error::too_large) {
    if (field_count_ == 0) {
      field_count_ = rec_.fields.size();
      field_count_from_header_ = rec_.is_header;
    } else if (rec_.fields.size() != field_count_ && rec_.error == record_error::none) {
      rec_.error = record_error::field_count;
      rec_.error_offset = rec_.offset;
    }
  }
  describe_error();
}

void reader::describe_error() {
  message_.clear();
  const std::uint64_t at = rec_.error_offset;
  const std::size_t in_raw = static_cast<std::size_t>(at - rec_.offset);
  auto column = [&] { return column_at(rec_.raw, in_raw, config_.delimiter); };
  switch (rec_.error) {
    case record_error::none: break;
    case record_error::too_large:
      message_ = fmt::format(
          "the record is longer than the {}-byte limit and was skipped; if it should not be, look for an "
          "unclosed double quote where it starts",
          config_.max_record_bytes);
      break;
    case record_error::unterminated_quote:
      message_ = fmt::format(
          "column {}: the quoted field opened at byte {} is not closed before the end of the file; close it, and "
          "double any double quote inside it",
          column(), at);
      break;
    case record_error::stray_quote:
      if (in_raw < rec_.raw.size() && rec_.raw[in_raw] == '"') {
        message_ = fmt::format(
            "column {}: double quote inside an unquoted field at byte {}; enclose the field in double quotes and "
            "double the quotes inside it",
            column(), at);
      } else {
        message_ = fmt::format(
            "column {}: text after the closing double quote at byte {}; a quoted field must end at the delimiter "
            "or the end of the line",
            column(), at);
      }
      break;
    case record_error::bare_carriage_return:
      message_ = fmt::format(
          "column {}: carriage return without a line feed at byte {}; enclose the field in double quotes if it "
          "is data, or end lines with LF or CRLF",
          column(), at);
      break;
    case record_error::invalid_utf8:
      message_ = fmt::format("column {}: invalid UTF-8 byte 0x{:02X} at byte {}; re-encode the file as UTF-8", column(),
                             static_cast<unsigned char>(rec_.raw[in_raw]), at);
      break;
    case record_error::field_count:
      message_ = fmt::format("{} fields, expected {} ({})", rec_.fields.size(), field_count_,
                             field_count_from_header_ ? "as in the header"
                             : config_.field_count != 0 ? "as declared"
                                                        : "as in the first record");
      break;
  }
  rec_.message = message_;
}

// ---------------------------------------------------------------------------
// Too-large records: find their end without keeping their bytes
// ---------------------------------------------------------------------------

void reader::start_skip() {
  const std::size_t keep = std::min(config_.max_record_bytes, too_large_raw_bytes);
  skipped_raw_.assign(pos_, std::min(keep, static_cast<std::size_t>(end_ - pos_)));
  skip_start_offset_ = absolute(pos_);
  skip_ = skip_state::field_start;
  skip_lines_ = 0;
  bool done = skip_bytes(pos_, end_);
  while (!done) {
    pos_ = end_;
    if (!refill()) break;
    done = skip_bytes(pos_, end_);
  }
  finish_skip();
}

// Runs the grammar's state machine over [p, end). Returns true and leaves
// pos_ after the record's line terminator when it ends within; otherwise
// leaves pos_ at end.
bool reader::skip_bytes(const char* p, const char* end) {
  const char delimiter = config_.delimiter;
  while (p < end) {
    const char c = *p;
    switch (skip_) {
      case skip_state::field_start:
        if (c == '"') {
          skip_ = skip_state::quoted;
          ++p;
          continue;
        }
        skip_ = skip_state::unquoted;
        continue;  // the byte is unquoted data: look at it again
      case skip_state::unquoted:
        if (c == delimiter) {
          skip_ = skip_state::field_start;
        } else if (c == '\n') {
          ++skip_lines_;
          pos_ = p + 1;
          return true;
        } else if (c == '\r') {
          skip_ = skip_state::cr_seen;
        }
        ++p;
        continue;
      case skip_state::quoted: {
        const auto* q = static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end - p)));
        const char* stop = q == nullptr ? end : q;
        skip_lines_ += count_lf(p, stop);
        if (q == nullptr) {
          p = end;
          continue;
        }
        skip_ = skip_state::quote_seen;
        p = q + 1;
        continue;
      }
      case skip_state::quote_seen:
        if (c == '"') {
          skip_ = skip_state::quoted;
          ++p;
          continue;
        }
        skip_ = skip_state::unquoted;
        continue;  // delimiter, CR, LF or stray text: as unquoted
      case skip_state::cr_seen:
        if (c == '\n') {
          ++skip_lines_;
          pos_ = p + 1;
          return true;
        }
        skip_ = skip_state::unquoted;
        continue;  // a bare CR was data: look at this byte again
    }
  }
  pos_ = end;
  return false;
}

void reader::finish_skip() {
  fields_.clear();
  rec_.fields = {};
  rec_.raw = skipped_raw_;
  rec_.line = line_;
  rec_.next_line = line_ + skip_lines_;
  rec_.offset = skip_start_offset_;
  rec_.end_offset = absolute(pos_);
  rec_.error = record_error::too_large;
  rec_.error_offset = rec_.offset;
  line_ = rec_.next_line;
  check_record();
}

}  // namespace celeriac::csv
