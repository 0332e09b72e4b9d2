#pragma once
// UTF-8 checks on raw CSV bytes. ASCII, by far the common case, is skipped
// 16 bytes at a time; multi-byte sequences get the full RFC 3629 check
// (no overlong forms, no surrogates, nothing above U+10FFFF).

#include <cstddef>
#include <string_view>

namespace celeriac::csv {

// Returns the index of the first byte of the first invalid (or truncated)
// sequence in `bytes`, or std::string_view::npos when all of it is UTF-8.
std::size_t find_invalid_utf8(std::string_view bytes) noexcept;

// Number of code points in `bytes`, which must be valid UTF-8 (as every
// field of a record without error is): the length a text(N) limit counts.
std::size_t count_code_points(std::string_view bytes) noexcept;

}  // namespace celeriac::csv
