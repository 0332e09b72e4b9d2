#include "csv/copy_encoder.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace celeriac::csv {

namespace {

inline char* put16(char* p, std::uint16_t v) noexcept {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
  return p + 2;
}

inline char* put32(char* p, std::uint32_t v) noexcept {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
  return p + 4;
}

inline char* put64(char* p, std::uint64_t v) noexcept {
  put32(p, static_cast<std::uint32_t>(v >> 32));
  return put32(p + 4, static_cast<std::uint32_t>(v));
}

// A length word followed by an 8-byte payload.
inline char* put_int8_field(char* p, std::uint64_t v) noexcept { return put64(put32(p, 8), v); }

// Bytes one value takes in a tuple (length word included).
inline std::size_t encoded_size(const value& v) noexcept {
  switch (v.index()) {
    case 0: return 4;                                              // NULL
    case 3: return 5;                                              // bool
    case 4: return 4 + std::get_if<std::string_view>(&v)->size();  // text
    default: return 12;                                            // int64, double, timestamptz
  }
}

}  // namespace

char* copy_encoder::extend(std::size_t n) {
  if (capacity_ - size_ < n) {
    std::size_t want = capacity_ == 0 ? 64 * 1024 : capacity_ * 2;
    while (want - size_ < n) want *= 2;
    std::unique_ptr<char[]> bigger(new char[want]);
    if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = want;
  }
  char* p = data_.get() + size_;
  size_ += n;
  return p;
}

void copy_encoder::write_header() { std::memcpy(extend(copy_header.size()), copy_header.data(), copy_header.size()); }

void copy_encoder::write_trailer() {
  std::memcpy(extend(copy_trailer.size()), copy_trailer.data(), copy_trailer.size());
}

void copy_encoder::write_row(std::span<const value> row) {
  if (row.size() > static_cast<std::size_t>(std::numeric_limits<std::int16_t>::max())) {
    throw std::length_error(fmt::format("binary COPY row of {} fields: the format allows at most 32767", row.size()));
  }
  std::size_t n = 2;
  for (const value& v : row) {
    if (const auto* t = std::get_if<std::string_view>(&v);
        t != nullptr && t->size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
      throw std::length_error(
          fmt::format("binary COPY field of {} bytes: the format allows less than 2 GiB", t->size()));
    }
    n += encoded_size(v);
  }
  char* p = put16(extend(n), static_cast<std::uint16_t>(row.size()));
  for (const value& v : row) {
    switch (v.index()) {
      case 0: p = put32(p, 0xFFFFFFFFu); break;
      case 1: p = put_int8_field(p, static_cast<std::uint64_t>(*std::get_if<std::int64_t>(&v))); break;
      case 2: p = put_int8_field(p, std::bit_cast<std::uint64_t>(*std::get_if<double>(&v))); break;
      case 3:
        p = put32(p, 1);
        *p++ = *std::get_if<bool>(&v) ? 1 : 0;
        break;
      case 4: {
        const std::string_view t = *std::get_if<std::string_view>(&v);
        p = put32(p, static_cast<std::uint32_t>(t.size()));
        std::memcpy(p, t.data(), t.size());
        p += t.size();
        break;
      }
      case 5: p = put_int8_field(p, static_cast<std::uint64_t>(std::get_if<timestamptz>(&v)->micros)); break;
    }
  }
}

}  // namespace celeriac::csv
