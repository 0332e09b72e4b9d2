#include "pg/sql_text.hpp"

#include <charconv>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace celeriac::pg {

void array_literal::separator_() {
  if (!empty_) text_.push_back(',');
  empty_ = false;
}

void array_literal::add_null() {
  separator_();
  text_.append("NULL");
}

void array_literal::add(std::string_view element) {
  separator_();
  text_.push_back('"');
  for (char c : element) {
    if (c == '"' || c == '\\') text_.push_back('\\');
    text_.push_back(c);
  }
  text_.push_back('"');
}

void array_literal::add(std::int64_t element) {
  separator_();
  fmt::format_to(std::back_inserter(text_), "{}", element);
}

std::string array_literal::finish() {
  text_.push_back('}');
  std::string out = std::move(text_);
  text_.assign(1, '{');
  empty_ = true;
  return out;
}

void copy_text::separator_() {
  if (row_started_) text_.push_back('\t');
  row_started_ = true;
}

void copy_text::add_null() {
  separator_();
  text_.append("\\N");
}

void copy_text::add(std::string_view field) {
  separator_();
  std::size_t from = 0;
  for (std::size_t i = 0; i < field.size(); ++i) {
    char escaped;
    switch (field[i]) {
      case '\\': escaped = '\\'; break;
      case '\t': escaped = 't'; break;
      case '\n': escaped = 'n'; break;
      case '\r': escaped = 'r'; break;
      default: continue;
    }
    text_.append(field.substr(from, i - from));
    text_.push_back('\\');
    text_.push_back(escaped);
    from = i + 1;
  }
  text_.append(field.substr(from));
}

void copy_text::add(std::int64_t field) {
  separator_();
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, field).ptr;
  text_.append(digits, end);
}

void copy_text::end_row() {
  text_.push_back('\n');
  row_started_ = false;
}

std::string copy_text::finish() {
  row_started_ = false;
  return std::exchange(text_, {});
}

bool valid_identifier(std::string_view name) noexcept {
  if (name.empty() || name.size() > 63) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string quote_identifier(std::string_view name) {
  if (!valid_identifier(name))
    throw std::invalid_argument(fmt::format(
        "invalid SQL identifier '{}': use 1 to 63 ASCII letters, digits or '_', not starting with a digit", name));
  return fmt::format("\"{}\"", name);
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return c == 0 ? 0 : 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

// The length of text's longest prefix of whole, valid sequences.
std::size_t clean_utf8_prefix(std::string_view text) noexcept {
  std::size_t i = 0;
  for (std::size_t n; i < text.size() && (n = utf8_sequence(text, i)) != 0;) i += n;
  return i;
}

}  // namespace

bool is_clean_utf8(std::string_view text) noexcept { return clean_utf8_prefix(text) == text.size(); }

void sanitize_utf8(std::string& text) {
  std::size_t i = clean_utf8_prefix(text);  // valid text is left as it is, uncopied
  if (i == text.size()) return;
  std::string out = text.substr(0, i);
  while (i < text.size()) {
    std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  text = std::move(out);
}

void truncate_utf8(std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return;
  std::size_t cut = max_bytes;
  // Step back over continuation bytes to the start of the cut sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
}

}  // namespace celeriac::pg
