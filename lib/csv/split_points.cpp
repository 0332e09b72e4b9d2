#include "csv/split_points.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace celeriac::csv {

namespace {

constexpr std::size_t block_bytes = std::size_t{1} << 20;

// The byte at k/parts of the file, without overflowing for any size.
std::uint64_t target(std::uint64_t size, std::size_t parts, std::size_t k) {
  return size / parts * k + size % parts * k / parts;
}

// Collects the split points as the scanner reports boundaries.
class split_collector {
public:
  split_collector(std::uint64_t size, std::size_t parts) : size_(size), parts_(parts) {}

  bool done() const noexcept { return next_k_ >= parts_; }

  // A boundary at `offset`, where line `line` starts.
  void boundary(std::uint64_t offset, std::uint64_t line) {
    if (offset >= size_ || offset < target(size_, parts_, next_k_)) return;
    points_.push_back(split_point{offset, line});
    while (!done() && target(size_, parts_, next_k_) <= offset) ++next_k_;
  }

  std::vector<split_point> take() { return std::move(points_); }

private:
  std::uint64_t size_;
  std::size_t parts_;
  std::size_t next_k_ = 1;
  std::vector<split_point> points_;
};

enum class scan_state : std::uint8_t { field_start, unquoted, quoted, quote_seen };

struct scanner {
  scan_state state = scan_state::field_start;
  std::uint64_t line = 1;
  // Until the first record has ended, a line feed may end a blank line
  // ("" or a lone CR before it, which the reader skips): that is no
  // boundary yet.
  bool first_record_done = false;
  std::uint64_t line_begin = 0;  // offset where the current line began
  char last_byte = 0;            // the byte before the current block
};

// Whether the line feed at file offset lf ends a blank line.
bool ends_blank_line(const scanner& s, std::uint64_t lf, char byte_before) {
  return lf == s.line_begin || (lf == s.line_begin + 1 && byte_before == '\r');
}

// In state field_start or unquoted at p: the first '"' in [p, stop) that
// opens a quoted field (at a field start), or nullptr. Other quotes are
// stray data.
const char* opening_quote(const char* p, const char* stop, scan_state state, char delimiter) {
  for (const char* q = p; q < stop; ++q) {
    q = static_cast<const char*>(std::memchr(q, '"', static_cast<std::size_t>(stop - q)));
    if (q == nullptr) return nullptr;
    if (q == p ? state == scan_state::field_start : q[-1] == delimiter) return q;
  }
  return nullptr;
}

// Runs the grammar over [p, end), which starts at file offset `base`;
// reports each boundary; returns early once the collector is done.
// Outside quotes only two things matter, a line feed and a quote opening
// a field, so it jumps between them with memchr.
void scan_block(const char* p, const char* const end, std::uint64_t base, char delimiter, scanner& s,
                split_collector& out) {
  const char* const begin = p;
  while (p < end) {
    switch (s.state) {
      case scan_state::quoted: {
        const auto* q = static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end - p)));
        const char* stop = q == nullptr ? end : q;
        s.line += static_cast<std::uint64_t>(std::count(p, stop, '\n'));
        if (q == nullptr) return;
        s.state = scan_state::quote_seen;
        p = q + 1;
        break;
      }
      case scan_state::quote_seen:
        if (*p == '"') {  // an escaped quote
          s.state = scan_state::quoted;
          ++p;
        } else {
          s.state = scan_state::unquoted;  // look at this byte again as data
        }
        break;
      case scan_state::field_start:
      case scan_state::unquoted: {
        const auto* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const char* stop = lf == nullptr ? end : lf;
        if (const char* q = opening_quote(p, stop, s.state, delimiter)) {
          s.state = scan_state::quoted;
          p = q + 1;
          break;
        }
        if (lf == nullptr) {
          s.state = end[-1] == delimiter ? scan_state::field_start : scan_state::unquoted;
          return;
        }
        const std::uint64_t at = base + static_cast<std::uint64_t>(lf - begin);
        if (!s.first_record_done) {
          s.first_record_done = !ends_blank_line(s, at, lf > begin ? lf[-1] : s.last_byte);
          s.line_begin = at + 1;
        }
        ++s.line;
        s.state = scan_state::field_start;
        p = lf + 1;
        if (s.first_record_done) out.boundary(at + 1, s.line);
        if (out.done()) return;
        break;
      }
    }
  }
}

// Reads until `dst` holds `want` bytes or the source ends.
std::size_t read_full(byte_source& source, char* dst, std::size_t want) {
  std::size_t got = 0;
  while (got < want) {
    const std::size_t n = source.read(dst + got, want - got);
    if (n == 0) break;
    got += n;
  }
  return got;
}

}  // namespace

std::vector<split_point> find_split_points(byte_source& source, std::uint64_t size, std::size_t parts,
                                           char delimiter) {
  split_collector out(size, parts);
  if (parts <= 1 || size == 0) return {};
  // A small file gets a small buffer (at least a few KiB, so the BOM is
  // never cut): tests split thousands of tiny inputs, and 1 MiB each is
  // slow under the sanitizers.
  const std::size_t buf_bytes =
      static_cast<std::size_t>(std::min<std::uint64_t>(block_bytes, std::max<std::uint64_t>(size, 4096)));
  std::unique_ptr<char[]> buf(new char[buf_bytes]);
  scanner s;
  std::uint64_t base = 0;
  bool first = true;
  while (!out.done()) {
    const std::size_t n = read_full(source, buf.get(), buf_bytes);
    if (n == 0) break;
    const char* p = buf.get();
    if (first && n >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
      p += 3;
      s.line_begin = 3;
    }
    first = false;
    scan_block(p, buf.get() + n, base + static_cast<std::uint64_t>(p - buf.get()), delimiter, s, out);
    s.last_byte = buf[n - 1];
    base += n;
  }
  return out.take();
}

}  // namespace celeriac::csv
