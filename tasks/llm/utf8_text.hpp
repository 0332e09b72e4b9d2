#pragma once
// UTF-8 checks for text that ends up in PostgreSQL (which refuses invalid
// UTF-8): merchant keys, and error messages quoted from a server's answer.

#include <cstddef>
#include <string>
#include <string_view>

namespace celeriac::tasks::llm {

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 when the
// bytes there are not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

// U+FFFD, what an invalid byte becomes.
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

// At most `max_bytes` of `text` (cut on a character boundary, "..." added
// when cut), fit for a log line or an error column: invalid bytes become
// U+FFFD, control characters and runs of whitespace one space, the ends
// trimmed.
std::string printable_excerpt(std::string_view text, std::size_t max_bytes);

}  // namespace celeriac::tasks::llm
