#pragma once
// Standard base64 (RFC 4648 §4, with padding): kombu's body_encoding.

#include <optional>
#include <string>
#include <string_view>

namespace celeriac::util {

// Appends the base64 encoding of bytes to out.
void base64_encode_to(std::string& out, std::string_view bytes);
std::string base64_encode(std::string_view bytes);

// Decodes base64 text (padding required as Python's b64decode emits it;
// ASCII whitespace is not accepted). Returns nullopt on any invalid
// character or length, so a corrupt body is rejected, not half-decoded.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace celeriac::util
