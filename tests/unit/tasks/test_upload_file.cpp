#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/task_error.hpp"
#include "tasks/csv_import/upload_file.hpp"

using namespace celeriac;
namespace fs = std::filesystem;

namespace {

struct folders {
  fs::path root;
  fs::path uploads;
  fs::path outside;
  folders() {
    std::string pattern = (fs::temp_directory_path() / "celeriac-upload-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    root = fs::canonical(pattern);
    uploads = root / "uploads";
    outside = root / "outside";
    fs::create_directories(uploads / "sub");
    fs::create_directories(outside);
    std::ofstream(uploads / "ok.csv") << "a,b\n1,2\n";
    std::ofstream(uploads / "sub" / "deep.csv") << "x\n";
    std::ofstream(outside / "secret.csv") << "secret\n";
    fs::create_symlink(outside / "secret.csv", uploads / "link_out.csv");
    fs::create_symlink(uploads / "ok.csv", uploads / "link_in.csv");
    fs::create_directory_symlink(outside, uploads / "dir_out");
    ::mkfifo((uploads / "fifo").c_str(), 0600);
  }
  ~folders() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

std::string refusal(const fs::path& dir, std::string_view path) {
  try {
    tasks::upload_file::open(dir, path);
  } catch (const app::task_error& e) {
    return e.exc_type() + ": " + e.what();
  }
  return "opened";
}

}  // namespace

TEST_CASE("files inside the upload folder open, directly or through links that stay inside") {
  folders f;
  auto a = tasks::upload_file::open(f.uploads, "ok.csv");
  CHECK(a.real_path() == f.uploads / "ok.csv");
  CHECK(a.identity().size == 8);
  char buf[3] = {};
  CHECK(a.read_at(2, buf, 3) == 3);
  CHECK(std::string(buf, 3) == "b\n1");
  CHECK(tasks::upload_file::open(f.uploads, "sub/deep.csv").real_path() == f.uploads / "sub" / "deep.csv");
  CHECK(tasks::upload_file::open(f.uploads, "link_in.csv").real_path() == f.uploads / "ok.csv");
  CHECK(tasks::upload_file::open(f.uploads, (f.uploads / "ok.csv").string()).real_path() == f.uploads / "ok.csv");
  // The descriptor stays the file that was checked, whatever the path becomes.
  auto b = tasks::upload_file::open(f.uploads, "ok.csv");
  fs::rename(f.uploads / "ok.csv", f.uploads / "moved.csv");
  std::ifstream again(b.reopen_path());
  std::string first;
  std::getline(again, first);
  CHECK(first == "a,b");
}

TEST_CASE("anything outside is refused: '..', absolute paths, symlinks out, non-files") {
  folders f;
  CHECK(refusal(f.uploads, "../outside/secret.csv").find("PermissionError") == 0);
  CHECK(refusal(f.uploads, "../outside/secret.csv").find("'..' is not allowed") != std::string::npos);
  CHECK(refusal(f.uploads, "sub/../ok.csv").find("'..' is not allowed") != std::string::npos);
  CHECK(refusal(f.uploads, (f.outside / "secret.csv").string()).find("outside the upload folder") !=
        std::string::npos);
  CHECK(refusal(f.uploads, "/etc/passwd").find("outside the upload folder") != std::string::npos);
  CHECK(refusal(f.uploads, "link_out.csv").find("outside the upload folder") != std::string::npos);
  CHECK(refusal(f.uploads, "dir_out/secret.csv").find("outside the upload folder") != std::string::npos);
  CHECK(refusal(f.uploads, "sub").find("not a regular file") != std::string::npos);
  CHECK(refusal(f.uploads, "fifo").find("not a regular file") != std::string::npos);
  CHECK(refusal(f.uploads, "missing.csv").find("FileNotFoundError") == 0);
  CHECK(refusal(f.uploads, "").find("ValueError") == 0);
  CHECK(refusal(f.uploads, std::string_view("a\0b", 3)).find("NUL") != std::string::npos);
  CHECK(refusal({}, "ok.csv").find("start it with --upload-dir") != std::string::npos);
  // The folder itself reached through a link counts as the folder.
  fs::create_directory_symlink(f.uploads, f.root / "alias");
  CHECK(tasks::upload_file::open(f.root / "alias", "ok.csv").real_path() == f.uploads / "ok.csv");
  CHECK(refusal(f.root / "alias", "link_out.csv").find("outside") != std::string::npos);
}
