#include "jellyfin_backup/io/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::AtomicFile;
using jb::test::make_dirs;
using jb::test::read_file;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool exists_no_follow(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

jb::ErrorKind kind_of_create(const std::string& final_path) {
  try {
    AtomicFile file = AtomicFile::create(final_path);
  } catch (const jb::Error& e) {
    return e.kind();
  }
  FAIL("AtomicFile::create did not throw for " << final_path);
  return jb::ErrorKind::kRefused;
}

}  // namespace

TEST_CASE("AtomicFile: nothing under the final name before commit", "[atomic_file]") {
  TempDir tmp;
  const std::string final_path = tmp / "archive.tar.zst";
  AtomicFile file = AtomicFile::create(final_path);
  CHECK(file.name() == final_path);
  CHECK_FALSE(exists_no_follow(final_path));
  file.write("hello ", 6);
  file.write("world", 5);
  CHECK_FALSE(exists_no_follow(final_path));
  // The bytes are in the temporary meanwhile.
  CHECK(read_file(file.temp_path()) == "hello world");
  CHECK(list_dir(tmp.path()).size() == 1);
}

TEST_CASE("AtomicFile: the temporary is hidden, in the same directory, mode 0600",
          "[atomic_file]") {
  TempDir tmp;
  const std::string final_path = tmp / "archive.tar.zst";
  const mode_t old_umask = ::umask(0);  // even a permissive umask gives 0600
  std::optional<AtomicFile> file;
  try {
    file.emplace(AtomicFile::create(final_path));
  } catch (...) {
    ::umask(old_umask);
    throw;
  }
  ::umask(old_umask);

  const std::filesystem::path temp(file->temp_path());
  CHECK(temp.parent_path() == std::filesystem::path(tmp.path()));
  const std::string base = temp.filename().string();
  REQUIRE_FALSE(base.empty());
  CHECK(base[0] == '.');
  CHECK(base.rfind(".archive.tar.zst.tmp-", 0) == 0);
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{base});

  struct stat st;
  REQUIRE(::lstat(file->temp_path().c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("AtomicFile: two files for the same name use different temporaries",
          "[atomic_file]") {
  TempDir tmp;
  AtomicFile a = AtomicFile::create(tmp / "x");
  AtomicFile b = AtomicFile::create(tmp / "x");
  CHECK(a.temp_path() != b.temp_path());
  CHECK(list_dir(tmp.path()).size() == 2);
}

TEST_CASE("AtomicFile: destruction without commit removes the temporary", "[atomic_file]") {
  TempDir tmp;
  const std::string final_path = tmp / "archive.tar.zst";
  std::string temp;
  {
    AtomicFile file = AtomicFile::create(final_path);
    temp = file.temp_path();
    file.write("partial", 7);
    CHECK(exists_no_follow(temp));
  }
  CHECK_FALSE(exists_no_follow(temp));
  CHECK_FALSE(exists_no_follow(final_path));
  CHECK(list_dir(tmp.path()).empty());
}

TEST_CASE("AtomicFile: an exception unwinding through it removes the temporary",
          "[atomic_file]") {
  TempDir tmp;
  try {
    AtomicFile file = AtomicFile::create(tmp / "a");
    file.write("x", 1);
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  CHECK(list_dir(tmp.path()).empty());
}

TEST_CASE("AtomicFile: commit renames the temporary to the final name", "[atomic_file]") {
  TempDir tmp;
  const std::string final_path = tmp / "archive.tar.zst";
  std::string temp;
  const std::string content(100000, 'q');
  {
    AtomicFile file = AtomicFile::create(final_path);
    temp = file.temp_path();
    file.write(content.data(), content.size());
    file.write("", 0);
    file.commit();
    CHECK(exists_no_follow(final_path));
    CHECK_FALSE(exists_no_follow(temp));
  }
  // Destruction after commit keeps the file.
  CHECK(read_file(final_path) == content);
  CHECK_FALSE(exists_no_follow(temp));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"archive.tar.zst"});
  struct stat st;
  REQUIRE(::stat(final_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("AtomicFile: an empty file can be committed", "[atomic_file]") {
  TempDir tmp;
  {
    AtomicFile file = AtomicFile::create(tmp / "empty");
    file.commit();
  }
  CHECK(exists_no_follow(tmp / "empty"));
  CHECK(read_file(tmp / "empty").empty());
}

TEST_CASE("AtomicFile: a moved-to object owns the file", "[atomic_file]") {
  TempDir tmp;
  const std::string final_path = tmp / "moved";
  {
    AtomicFile original = AtomicFile::create(final_path);
    original.write("abc", 3);
    AtomicFile moved(std::move(original));
    moved.write("def", 3);
    moved.commit();
  }
  CHECK(read_file(final_path) == "abcdef");
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"moved"});

  // Moved, then dropped without commit: the temporary goes away once.
  {
    AtomicFile original = AtomicFile::create(tmp / "dropped");
    AtomicFile moved(std::move(original));
  }
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"moved"});
}

TEST_CASE("AtomicFile: an existing final path is refused at create", "[atomic_file]") {
  TempDir tmp;
  write_file(tmp / "exists", "keep me");
  CHECK(kind_of_create(tmp / "exists") == jb::ErrorKind::kRuntime);
  CHECK(read_file(tmp / "exists") == "keep me");
  make_dirs(tmp / "a-directory");
  CHECK(kind_of_create(tmp / "a-directory") == jb::ErrorKind::kRuntime);
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"a-directory", "exists"});
}

TEST_CASE("AtomicFile: a file appearing before commit is never replaced", "[atomic_file]") {
  TempDir tmp;
  const std::string final_path = tmp / "archive.tar.zst";
  std::string temp;
  {
    AtomicFile file = AtomicFile::create(final_path);
    temp = file.temp_path();
    file.write("new archive", 11);
    write_file(final_path, "someone else's file");  // appears meanwhile
    try {
      file.commit();
      FAIL("commit replaced an existing file");
    } catch (const jb::Error& e) {
      CHECK(e.kind() == jb::ErrorKind::kRuntime);
      CHECK(std::string(e.what()).find(final_path) != std::string::npos);
    }
    CHECK(read_file(final_path) == "someone else's file");
  }
  CHECK(read_file(final_path) == "someone else's file");
  CHECK_FALSE(exists_no_follow(temp));  // the failed temporary is cleaned up
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"archive.tar.zst"});
}

TEST_CASE("AtomicFile: a symlink appearing before commit is not replaced", "[atomic_file]") {
  TempDir tmp;
  const std::string final_path = tmp / "archive.tar.zst";
  {
    AtomicFile file = AtomicFile::create(final_path);
    file.write("data", 4);
    REQUIRE(::symlink((tmp / "target").c_str(), final_path.c_str()) == 0);
    CHECK_THROWS_AS(file.commit(), jb::Error);
  }
  struct stat st;
  REQUIRE(::lstat(final_path.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK_FALSE(exists_no_follow(tmp / "target"));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"archive.tar.zst"});
}

TEST_CASE("AtomicFile: a symlink planted at the final name is refused", "[atomic_file]") {
  TempDir tmp;
  make_dirs(tmp / "victim-dir");
  write_file(tmp / "victim", "victim content");
  const std::string final_path = tmp / "archive.tar.zst";

  SECTION("symlink to an existing file") {
    REQUIRE(::symlink((tmp / "victim").c_str(), final_path.c_str()) == 0);
    CHECK(kind_of_create(final_path) == jb::ErrorKind::kRuntime);
    CHECK(read_file(tmp / "victim") == "victim content");
  }
  SECTION("dangling symlink") {
    REQUIRE(::symlink((tmp / "victim-dir/new").c_str(), final_path.c_str()) == 0);
    CHECK(kind_of_create(final_path) == jb::ErrorKind::kRuntime);
    CHECK_FALSE(exists_no_follow(tmp / "victim-dir/new"));
  }
  struct stat st;
  REQUIRE(::lstat(final_path.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"archive.tar.zst", "victim", "victim-dir"});
}

TEST_CASE("AtomicFile: a missing or non-directory parent is an error", "[atomic_file]") {
  TempDir tmp;
  CHECK(kind_of_create(tmp / "missing/archive") == jb::ErrorKind::kRuntime);
  write_file(tmp / "file", "x");
  CHECK(kind_of_create(tmp / "file/archive") == jb::ErrorKind::kRuntime);
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"file"});
}

TEST_CASE("AtomicFile: a directory that is not writable is an error", "[atomic_file]") {
  if (::geteuid() == 0) {
    WARN("running as root, which writes everywhere: skipped");
    return;
  }
  TempDir tmp;
  make_dirs(tmp / "ro");
  REQUIRE(::chmod((tmp / "ro").c_str(), 0555) == 0);
  CHECK(kind_of_create(tmp / "ro/archive") == jb::ErrorKind::kRuntime);
  CHECK(list_dir(tmp / "ro").empty());
}

TEST_CASE("AtomicFile: a relative path without a directory uses the working directory",
          "[atomic_file]") {
  TempDir tmp;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp.path());
  try {
    AtomicFile file = AtomicFile::create("relative.bin");
    CHECK(file.temp_path().rfind("./.relative.bin.tmp-", 0) == 0);
    file.write("r", 1);
    file.commit();
  } catch (...) {
    std::filesystem::current_path(cwd);
    throw;
  }
  std::filesystem::current_path(cwd);
  CHECK(read_file(tmp / "relative.bin") == "r");
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"relative.bin"});
}
