#include "tasks/csv_import/upload_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "app/task_error.hpp"

namespace celeriac::tasks {

namespace {

namespace fs = std::filesystem;

app::task_error refused(std::string_view requested, const std::string& why) {
  return app::task_error("PermissionError", fmt::format("celeriac.csv_import: path '{}' refused: {}", requested, why));
}

std::string errno_text(int e) { return std::generic_category().message(e); }

// True when `p` is `dir` itself or lies below it (both canonical).
bool inside(const fs::path& dir, const fs::path& p) {
  const std::string d = dir.string();
  const std::string s = p.string();
  if (d == "/") return !s.empty() && s[0] == '/';
  return s.size() > d.size() && s.compare(0, d.size(), d) == 0 && s[d.size()] == '/';
}

}  // namespace

upload_file upload_file::open(const fs::path& upload_dir, std::string_view requested) {
  if (upload_dir.empty())
    throw refused(requested, "this worker has no upload folder; start it with --upload-dir DIR");
  if (requested.empty()) throw app::task_error("ValueError", "celeriac.csv_import: path is empty");
  if (requested.find('\0') != std::string_view::npos)
    throw app::task_error("ValueError", "celeriac.csv_import: path contains a NUL byte");
  const fs::path asked{std::string(requested)};
  for (const fs::path& part : asked)
    if (part == "..") throw refused(requested, "'..' is not allowed in an upload path");

  std::error_code ec;
  const fs::path dir = fs::canonical(upload_dir, ec);
  if (ec)
    throw app::task_error("OSError", fmt::format("celeriac.csv_import: the upload folder {} is not usable: {}",
                                                 upload_dir.string(), ec.message()));
  const fs::path candidate = asked.is_absolute() ? asked : dir / asked;

  const int fd = ::open(candidate.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      throw app::task_error("FileNotFoundError",
                            fmt::format("celeriac.csv_import: no file '{}' in the upload folder", requested));
    if (e == ELOOP) throw refused(requested, "too many levels of symbolic links");
    throw app::task_error("OSError", fmt::format("celeriac.csv_import: cannot open '{}': {}", requested, errno_text(e)));
  }
  upload_file file(fd, {});
  // Where the open file really is, whatever links led to it.
  const fs::path real = fs::read_symlink(file.reopen_path(), ec);
  if (ec) throw app::task_error("OSError", fmt::format("celeriac.csv_import: cannot resolve '{}': {}", requested, ec.message()));
  if (!inside(dir, real)) throw refused(requested, "it resolves to a file outside the upload folder");
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw app::task_error("OSError", fmt::format("celeriac.csv_import: cannot stat '{}': {}", requested, errno_text(errno)));
  if (!S_ISREG(st.st_mode)) throw refused(requested, "not a regular file");
  // Reads should block normally from here on.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  file.real_path_ = real;
  return file;
}

upload_file::upload_file(upload_file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), real_path_(std::move(other.real_path_)) {}

upload_file& upload_file::operator=(upload_file&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    real_path_ = std::move(other.real_path_);
  }
  return *this;
}

upload_file::~upload_file() {
  if (fd_ >= 0) ::close(fd_);
}

std::string upload_file::reopen_path() const { return fmt::format("/proc/self/fd/{}", fd_); }

csv::file_source upload_file::source_at(std::uint64_t offset) const {
  auto src = csv::file_source::open(reopen_path(), offset);
  if (!src)
    throw app::task_error("OSError", fmt::format("celeriac.csv_import: cannot read {} at byte {}: {}",
                                                 real_path_.string(), offset, src.error().message));
  return std::move(*src);
}

file_identity upload_file::identity() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0)
    throw app::task_error("OSError", fmt::format("celeriac.csv_import: cannot stat {}: {}", real_path_.string(),
                                                 errno_text(errno)));
  return file_identity{static_cast<std::uint64_t>(st.st_size),
                       static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000 + st.st_mtim.tv_nsec / 1000};
}

std::size_t upload_file::read_at(std::uint64_t offset, char* dst, std::size_t capacity) const {
  std::size_t got = 0;
  while (got < capacity) {
    const ssize_t n = ::pread(fd_, dst + got, capacity - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

}  // namespace celeriac::tasks
