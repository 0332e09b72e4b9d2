#include "resp/serializer.hpp"

#include <charconv>

namespace celeriac::resp {
namespace {

// Appends `marker` followed by `n` and CRLF, without a temporary string.
void append_header(std::string& out, char marker, std::size_t n) {
  char buf[24];
  buf[0] = marker;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  (void)ec;  // 20 digits always fit
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf, end);
}

}  // namespace

void append_array_header(std::string& out, std::size_t count) { append_header(out, '*', count); }

void append_bulk(std::string& out, std::string_view bytes) {
  append_header(out, '$', bytes.size());
  out.append(bytes);
  out.append("\r\n", 2);
}

void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_array_header(out, args.size());
  for (std::string_view arg : args) append_bulk(out, arg);
}

}  // namespace celeriac::resp
