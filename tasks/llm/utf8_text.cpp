#include "tasks/llm/utf8_text.hpp"

namespace celeriac::tasks::llm {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char b = at(0);
  if (b < 0x80) return 1;
  std::size_t n = 0;
  // The second byte's allowed range is what rules out overlong forms,
  // surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..).
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (at(1) < lo || at(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((at(k) & 0xC0) != 0x80) return 0;
  return n;
}

std::string printable_excerpt(std::string_view text, std::size_t max_bytes) {
  std::string out;
  bool pending_space = false;
  std::size_t i = 0;
  for (; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = utf8_sequence_length(text, i);
    const bool blank = n == 1 && (c < 0x20 || c == ' ' || c == 0x7F);
    if (blank) {
      pending_space = !out.empty();
      ++i;
      continue;
    }
    const std::string_view piece = n == 0 ? replacement_character : text.substr(i, n);
    if (out.size() + (pending_space ? 1 : 0) + piece.size() > max_bytes) break;
    if (pending_space) out += ' ';
    pending_space = false;
    out += piece;
    i += n == 0 ? 1 : n;
  }
  // Only blanks left: nothing was cut.
  while (i < text.size() && utf8_sequence_length(text, i) == 1 &&
         (static_cast<unsigned char>(text[i]) <= ' ' || text[i] == 0x7F))
    ++i;
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace celeriac::tasks::llm
