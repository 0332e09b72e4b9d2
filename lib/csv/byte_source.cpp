#include "csv/byte_source.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace celeriac::csv {

std::size_t memory_source::read(char* dst, std::size_t capacity) {
  const std::size_t n = std::min({capacity, max_chunk_, bytes_.size()});
  std::memcpy(dst, bytes_.data(), n);
  bytes_.remove_prefix(n);
  return n;
}

std::size_t bounded_source::read(char* dst, std::size_t capacity) {
  if (left_ == 0) return 0;
  const std::size_t n = inner_.read(dst, static_cast<std::size_t>(std::min<std::uint64_t>(capacity, left_)));
  left_ -= n;
  return n;
}

result<file_source> file_source::open(const std::string& path, std::size_t offset) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return message_error{fmt::format("cannot open CSV file '{}': {}", path, std::strerror(errno))};
  }
  file_source source{fd, path};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return message_error{fmt::format("cannot stat CSV file '{}': {}", path, std::strerror(errno))};
  }
  if (S_ISREG(st.st_mode) && offset > static_cast<std::size_t>(st.st_size)) {
    return message_error{fmt::format(
        "cannot resume CSV file '{}' at byte {}: the file has only {} bytes (was it replaced since the checkpoint?)",
        path, offset, st.st_size)};
  }
  if (offset > 0 && ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    return message_error{fmt::format("cannot seek CSV file '{}' to byte {}: {}", path, offset, std::strerror(errno))};
  }
  return source;
}

file_source::file_source(file_source&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

file_source& file_source::operator=(file_source&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

file_source::~file_source() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t file_source::read(char* dst, std::size_t capacity) {
  for (;;) {
    const ssize_t n = ::read(fd_, dst, capacity);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    throw std::system_error(errno, std::generic_category(), fmt::format("reading CSV file '{}'", path_));
  }
}

}  // namespace celeriac::csv
