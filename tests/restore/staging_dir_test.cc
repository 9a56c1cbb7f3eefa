#include "jellyfin_backup/restore/staging_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/remove_tree.h"
#include "test_util.h"

using jb::StagingDir;
using jb::test::make_dirs;
using jb::test::read_file;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

bool exists_no_follow(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("StagingDir: prefix_for names a hidden sibling", "[staging_dir]") {
  CHECK(StagingDir::prefix_for("/var/lib/jellyfin") ==
        "/var/lib/.jellyfin.jellyfin-backup-staging.");
  CHECK(StagingDir::prefix_for("/etc/jellyfin") == "/etc/.jellyfin.jellyfin-backup-staging.");
}

TEST_CASE("StagingDir: created beside the target, named by pid, mode 0700", "[staging_dir]") {
  TempDir tmp;
  const std::string target = tmp / "data";
  make_dirs(target);
  const mode_t old_umask = ::umask(0);  // even a permissive umask gives 0700
  std::optional<StagingDir> staging;
  try {
    staging.emplace(StagingDir::create(target));
  } catch (...) {
    ::umask(old_umask);
    throw;
  }
  ::umask(old_umask);

  const std::string expected = StagingDir::prefix_for(target) + std::to_string(::getpid());
  CHECK(staging->path() == expected);
  CHECK(expected == tmp / (".data.jellyfin-backup-staging." + std::to_string(::getpid())));
  struct stat st;
  REQUIRE(::lstat(expected.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 07777) == 0700);
  // The fd is the directory itself.
  struct stat by_fd;
  REQUIRE(staging->fd() >= 0);
  REQUIRE(::fstat(staging->fd(), &by_fd) == 0);
  CHECK(by_fd.st_ino == st.st_ino);
  CHECK(by_fd.st_dev == st.st_dev);
  // The target is not touched.
  CHECK(exists_no_follow(target));
}

TEST_CASE("StagingDir: the target itself need not exist", "[staging_dir]") {
  TempDir tmp;
  StagingDir staging = StagingDir::create(tmp / "config");
  CHECK(exists_no_follow(staging.path()));
  CHECK_FALSE(exists_no_follow(tmp / "config"));
}

TEST_CASE("StagingDir: a missing parent is an error", "[staging_dir]") {
  TempDir tmp;
  CHECK_THROWS_AS(StagingDir::create(tmp / "missing/config"), jb::Error);
}

TEST_CASE("StagingDir: removed with its contents on destruction", "[staging_dir]") {
  TempDir tmp;
  std::string path;
  {
    StagingDir staging = StagingDir::create(tmp / "data");
    path = staging.path();
    make_dirs(path + "/a/b");
    write_file(path + "/a/b/file", "x");
    REQUIRE(exists_no_follow(path + "/a/b/file"));
  }
  CHECK_FALSE(exists_no_follow(path));
}

TEST_CASE("StagingDir: release() keeps it", "[staging_dir]") {
  TempDir tmp;
  std::string path;
  {
    StagingDir staging = StagingDir::create(tmp / "data");
    path = staging.path();
    write_file(path + "/file", "kept");
    staging.release();
  }
  CHECK(read_file(path + "/file") == "kept");
}

TEST_CASE("StagingDir: remove() is idempotent", "[staging_dir]") {
  TempDir tmp;
  StagingDir staging = StagingDir::create(tmp / "data");
  const std::string path = staging.path();
  write_file(path + "/file", "x");
  staging.remove();
  CHECK_FALSE(exists_no_follow(path));
  CHECK_NOTHROW(staging.remove());
  // A directory made under the same name afterwards is not the staging
  // directory's any more: neither remove() nor the destructor touch it.
  make_dirs(path);
  CHECK_NOTHROW(staging.remove());
  CHECK(exists_no_follow(path));
  jb::remove_tree(path);
}

TEST_CASE("StagingDir: removal copes with read-only directories inside", "[staging_dir]") {
  TempDir tmp;
  std::string path;
  {
    StagingDir staging = StagingDir::create(tmp / "data");
    path = staging.path();
    make_dirs(path + "/ro/deeper");
    write_file(path + "/ro/deeper/file", "x", 0444);
    write_file(path + "/ro/file", "y");
    REQUIRE(::chmod((path + "/ro/deeper").c_str(), 0555) == 0);
    REQUIRE(::chmod((path + "/ro").c_str(), 0555) == 0);
    REQUIRE(::fchmod(staging.fd(), 0555) == 0);  // restored root metadata
  }
  CHECK_FALSE(exists_no_follow(path));
}

TEST_CASE("StagingDir: a moved-from object removes nothing", "[staging_dir]") {
  TempDir tmp;
  std::optional<StagingDir> first;
  first.emplace(StagingDir::create(tmp / "data"));
  const std::string path = first->path();
  StagingDir second(std::move(*first));
  first.reset();
  CHECK(exists_no_follow(path));
  CHECK(second.path() == path);
  second.remove();
  CHECK_FALSE(exists_no_follow(path));
}

TEST_CASE("StagingDir: a leftover under our own name is replaced", "[staging_dir]") {
  TempDir tmp;
  const std::string leftover = StagingDir::prefix_for(tmp / "data") + std::to_string(::getpid());
  make_dirs(leftover + "/old");
  write_file(leftover + "/old/file", "stale");
  StagingDir staging = StagingDir::create(tmp / "data");
  CHECK(staging.path() == leftover);
  CHECK_FALSE(exists_no_follow(leftover + "/old"));
}

TEST_CASE("StagingDir: unprivileged, removal copes with read-only directories inside",
          "[staging_dir]") {
  TempDir tmp;
  const std::string work = jb::test::unprivileged_work_dir(tmp);
  auto result = jb::test::run_unprivileged([&]() -> std::string {
    std::string path;
    {
      StagingDir staging = StagingDir::create(work + "/data");
      path = staging.path();
      make_dirs(path + "/ro/deeper");
      write_file(path + "/ro/deeper/file", "x", 0444);
      if (::chmod((path + "/ro/deeper").c_str(), 0555) != 0 ||
          ::chmod((path + "/ro").c_str(), 0555) != 0 || ::fchmod(staging.fd(), 0555) != 0)
        throw std::runtime_error("chmod failed");
    }
    return path;
  });
  INFO(result.text);
  REQUIRE(result.ok);
  CHECK(result.text.rfind(StagingDir::prefix_for(work + "/data"), 0) == 0);
  CHECK_FALSE(exists_no_follow(result.text));
  CHECK(std::filesystem::is_empty(work));
}

TEST_CASE("StagingDir: a parent inside the other tree is reached without following symlinks",
          "[staging_dir]") {
  // data lies inside config (restored alone with --only): config's owner
  // swaps config/sub for a symlink to a directory of root's. The staging
  // directory must not appear there.
  TempDir tmp;
  const std::string config = tmp / "config";
  make_dirs(tmp / "outside");
  make_dirs(config);
  REQUIRE(::symlink((tmp / "outside").c_str(), (config + "/sub").c_str()) == 0);
  const std::string data = config + "/sub/data";
  CHECK_THROWS_AS(StagingDir::create(data, false, {config, data}), jb::Error);
  CHECK(std::filesystem::is_empty(tmp / "outside"));
  // Through a real directory it works, and is made there.
  REQUIRE(::unlink((config + "/sub").c_str()) == 0);
  make_dirs(config + "/sub");
  StagingDir staging = StagingDir::create(data, false, {config, data});
  CHECK(exists_no_follow(StagingDir::prefix_for(data) + std::to_string(::getpid())));
  staging.remove();
  CHECK(std::filesystem::is_empty(config + "/sub"));
}
