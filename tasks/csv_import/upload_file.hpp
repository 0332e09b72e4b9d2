#pragma once
// An uploaded file opened for reading, confined to the worker's upload
// folder: whoever can enqueue a job must not be able to make the worker
// read anything else.
//
// The check is made on the file actually opened, not on the path text:
//   1. a path with a ".." component is refused outright;
//   2. the path (relative to the folder, or absolute) is opened read-only;
//   3. the kernel's name for the open file (/proc/self/fd/N) must lie inside
//      the canonical upload folder, and the file must be a regular file.
// So a symlink anywhere on the way that leads out, or a path swapped for
// one between a check and the open, is refused; a symlink that stays
// inside is followed. The descriptor stays open for the import, and every
// re-read goes through it (reopen_path()), so the file read is always the
// one checked.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "csv/byte_source.hpp"

namespace celeriac::tasks {

// What identifies a version of the file: a resumed import refuses a file
// whose size or modification time differs from the checkpoint's.
struct file_identity {
  std::uint64_t size = 0;
  std::int64_t mtime_micros = 0;  // since the Unix epoch
  friend bool operator==(const file_identity&, const file_identity&) = default;
};

class upload_file {
public:
  // Opens `requested` inside `upload_dir`. Throws app::task_error:
  // PermissionError (no upload folder configured, "..", outside the
  // folder, not a regular file), FileNotFoundError (no such file),
  // ValueError (empty path or a NUL byte), OSError (anything else the OS
  // refuses), each naming the path as requested.
  static upload_file open(const std::filesystem::path& upload_dir, std::string_view requested);

  upload_file(upload_file&& other) noexcept;
  upload_file& operator=(upload_file&& other) noexcept;
  upload_file(const upload_file&) = delete;
  upload_file& operator=(const upload_file&) = delete;
  ~upload_file();

  // The file's real path (for messages).
  const std::filesystem::path& real_path() const noexcept { return real_path_; }
  // A path that opens this very file again ("/proc/self/fd/N").
  std::string reopen_path() const;
  // A sequential reader of this very file from `offset` on, for
  // csv::reader. Throws app::task_error (OSError) when it cannot be made.
  csv::file_source source_at(std::uint64_t offset) const;
  // Size and mtime now (fstat). Throws app::task_error (OSError) on failure.
  file_identity identity() const;
  // Reads up to `capacity` bytes at `offset` (pread); returns how many.
  std::size_t read_at(std::uint64_t offset, char* dst, std::size_t capacity) const;

private:
  upload_file(int fd, std::filesystem::path real_path) noexcept : fd_(fd), real_path_(std::move(real_path)) {}

  int fd_ = -1;
  std::filesystem::path real_path_;
};

}  // namespace celeriac::tasks
