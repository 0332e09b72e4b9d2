#pragma once
// Where csv::reader pulls its bytes from. The reader never seeks: a source
// starts at the byte the caller wants to parse from (0, or a checkpoint's
// offset when resuming), and the reader counts offsets from there.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "csv/error.hpp"

namespace celeriac::csv {

class byte_source {
 public:
  virtual ~byte_source() = default;

  // Copies up to `capacity` (> 0) next bytes into dst and returns how many.
  // Returns 0 only when there is no more data; may return fewer bytes than
  // asked at any time. Throws on an I/O error (the reader lets it through).
  virtual std::size_t read(char* dst, std::size_t capacity) = 0;
};

// Bytes already in memory (tests, the benchmark, the fuzzer). Keeps a view:
// the bytes must outlive the source. `max_chunk` caps each read, so tests
// can feed the reader one byte at a time.
class memory_source final : public byte_source {
 public:
  explicit memory_source(std::string_view bytes, std::size_t max_chunk = static_cast<std::size_t>(-1)) noexcept
      : bytes_(bytes), max_chunk_(max_chunk == 0 ? 1 : max_chunk) {}

  std::size_t read(char* dst, std::size_t capacity) override;

 private:
  std::string_view bytes_;  // what is still unread
  std::size_t max_chunk_;
};

// A file read sequentially with read(2), starting at a byte offset.
class file_source final : public byte_source {
 public:
  // Opens `path` for reading and positions it at `offset` (a checkpoint's
  // end_offset, or 0). Returns an error naming the file and the OS reason
  // when it cannot be opened or the offset lies beyond its end.
  static result<file_source> open(const std::string& path, std::size_t offset = 0);

  file_source(file_source&& other) noexcept;
  file_source& operator=(file_source&& other) noexcept;
  file_source(const file_source&) = delete;
  file_source& operator=(const file_source&) = delete;
  ~file_source() override;

  // Throws std::system_error naming the file if read(2) fails.
  std::size_t read(char* dst, std::size_t capacity) override;

 private:
  file_source(int fd, std::string path) noexcept : fd_(fd), path_(std::move(path)) {}

  int fd_ = -1;
  std::string path_;  // for error messages
};

// The next `limit` bytes of another source, then the end of the data: one
// part of a file cut at split points (split_points.hpp), so the part's
// reader ends where the next part's begins.
class bounded_source final : public byte_source {
 public:
  // `inner` must outlive this source.
  bounded_source(byte_source& inner, std::uint64_t limit) noexcept : inner_(inner), left_(limit) {}

  std::size_t read(char* dst, std::size_t capacity) override;

 private:
  byte_source& inner_;
  std::uint64_t left_;
};

}  // namespace celeriac::csv
