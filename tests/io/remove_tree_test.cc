#include "jellyfin_backup/io/remove_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/mount.h>
#include <sys/resource.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <stdexcept>
#include <string>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/unique_fd.h"
#include "test_util.h"

using jb::remove_tree;
using jb::remove_tree_at;
using jb::test::make_dirs;
using jb::test::read_file;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

bool exists_no_follow(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Something like a restored tree: nested, with read-only directories.
void make_nested(const std::string& root) {
  make_dirs(root + "/a/b/c");
  make_dirs(root + "/ro/inner");
  make_dirs(root + "/empty");
  write_file(root + "/top.txt", "top");
  write_file(root + "/a/one.txt", "1");
  write_file(root + "/a/b/two.txt", "2", 0400);
  write_file(root + "/a/b/c/three.txt", "3", 0000);
  write_file(root + "/ro/inner/file", "ro");
  REQUIRE(::symlink("a/one.txt", (root + "/link").c_str()) == 0);
  REQUIRE(::symlink("dangling", (root + "/a/dangling").c_str()) == 0);
  REQUIRE(::mkfifo((root + "/a/fifo").c_str(), 0600) == 0);
  REQUIRE(::chmod((root + "/ro/inner").c_str(), 0555) == 0);
  REQUIRE(::chmod((root + "/ro").c_str(), 0555) == 0);
  REQUIRE(::chmod((root + "/a/b/c").c_str(), 0500) == 0);
  REQUIRE(::chmod((root + "/empty").c_str(), 0555) == 0);
}

}  // namespace

TEST_CASE("remove_tree: removes a nested tree with read-only directories", "[remove_tree]") {
  TempDir tmp;
  const std::string root = tmp / "tree";
  make_nested(root);
  remove_tree(root);
  CHECK_FALSE(exists_no_follow(root));
}

TEST_CASE("remove_tree: the tree root itself may be read-only", "[remove_tree]") {
  TempDir tmp;
  const std::string root = tmp / "tree";
  make_nested(root);
  REQUIRE(::chmod(root.c_str(), 0555) == 0);
  remove_tree(root);
  CHECK_FALSE(exists_no_follow(root));
}

TEST_CASE("remove_tree: a symlink to an outside directory is removed, not followed",
          "[remove_tree]") {
  TempDir tmp;
  make_dirs(tmp / "outside/deep");
  write_file(tmp / "outside/keep.txt", "keep");
  write_file(tmp / "outside/deep/keep2.txt", "keep2");
  make_dirs(tmp / "tree/sub");
  write_file(tmp / "tree/sub/file", "x");
  REQUIRE(::symlink((tmp / "outside").c_str(), (tmp / "tree/sub/escape").c_str()) == 0);
  REQUIRE(::symlink("../../outside", (tmp / "tree/sub/escape-relative").c_str()) == 0);

  remove_tree(tmp / "tree");
  CHECK_FALSE(exists_no_follow(tmp / "tree"));
  CHECK(read_file(tmp / "outside/keep.txt") == "keep");
  CHECK(read_file(tmp / "outside/deep/keep2.txt") == "keep2");
}

TEST_CASE("remove_tree: a path that is a symlink loses only the link", "[remove_tree]") {
  TempDir tmp;
  make_dirs(tmp / "outside");
  write_file(tmp / "outside/keep.txt", "keep");
  REQUIRE(::symlink((tmp / "outside").c_str(), (tmp / "link").c_str()) == 0);
  remove_tree(tmp / "link");
  CHECK_FALSE(exists_no_follow(tmp / "link"));
  CHECK(read_file(tmp / "outside/keep.txt") == "keep");
}

TEST_CASE("remove_tree: a missing path is not an error", "[remove_tree]") {
  TempDir tmp;
  CHECK_NOTHROW(remove_tree(tmp / "missing"));
  CHECK_NOTHROW(remove_tree_at(AT_FDCWD, tmp / "missing", tmp / "missing"));
}

TEST_CASE("remove_tree: removes a single file", "[remove_tree]") {
  TempDir tmp;
  write_file(tmp / "file", "x", 0400);
  remove_tree(tmp / "file");
  CHECK_FALSE(exists_no_follow(tmp / "file"));
}

TEST_CASE("remove_tree_at: names are relative to the directory fd", "[remove_tree]") {
  TempDir tmp;
  make_nested(tmp / "tree");
  write_file(tmp / "sibling", "stays");
  jb::UniqueFd dir(::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir);
  remove_tree_at(dir.get(), "tree", tmp / "tree");
  CHECK_FALSE(exists_no_follow(tmp / "tree"));
  CHECK(read_file(tmp / "sibling") == "stays");
}

TEST_CASE("remove_tree: unprivileged, read-only directories are made writable to be emptied",
          "[remove_tree]") {
  TempDir tmp;
  const std::string work = jb::test::unprivileged_work_dir(tmp);
  auto result = jb::test::run_unprivileged([&]() -> std::string {
    make_nested(work + "/tree");
    if (::access((work + "/tree/ro/inner/file").c_str(), F_OK) != 0)
      throw std::runtime_error("the tree was not made");
    remove_tree(work + "/tree");
    return {};
  });
  INFO(result.text);
  REQUIRE(result.ok);
  CHECK_FALSE(exists_no_follow(work + "/tree"));
}

TEST_CASE("remove_tree: unprivileged, directories without read permission",
          "[remove_tree]") {
  // A restored mode may lack the owner's read bit (0000, 0300, 0100): the
  // directory must still be opened to be emptied.
  TempDir tmp;
  const std::string work = jb::test::unprivileged_work_dir(tmp);
  auto result = jb::test::run_unprivileged([&]() -> std::string {
    const std::string tree = work + "/tree";
    make_dirs(tree + "/none/inner");
    make_dirs(tree + "/write-exec");
    write_file(tree + "/none/inner/file", "x");
    write_file(tree + "/write-exec/file", "y");
    if (::chmod((tree + "/none").c_str(), 0000) != 0 ||
        ::chmod((tree + "/write-exec").c_str(), 0300) != 0)
      throw std::runtime_error("chmod failed");
    remove_tree(tree);
    return {};
  });
  INFO(result.text);
  CHECK(result.ok);
  CHECK_FALSE(exists_no_follow(work + "/tree"));
}

namespace {

// A chain of `depth` nested directories "d/d/d/..." under `root`, made
// through fds (the path is far longer than PATH_MAX).
void make_deep(const std::string& root, int depth) {
  make_dirs(root);
  jb::UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd);
  for (int i = 0; i < depth; ++i) {
    REQUIRE(::mkdirat(fd.get(), "d", 0755) == 0);
    if (i % 1000 == 0) {
      jb::UniqueFd file(::openat(fd.get(), "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
      REQUIRE(file);
    }
    fd.reset(::openat(fd.get(), "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(fd);
  }
}

// Lowers RLIMIT_NOFILE for a scope: only a few fds above those open now.
class FdLimit {
 public:
  explicit FdLimit(int spare) {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old_) == 0);
    int highest = 0;
    for (int fd = 0; fd < 1024; ++fd)
      if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    struct rlimit lower = old_;
    lower.rlim_cur = static_cast<rlim_t>(highest + 1 + spare);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lower) == 0);
  }
  ~FdLimit() { ::setrlimit(RLIMIT_NOFILE, &old_); }

 private:
  struct rlimit old_;
};

}  // namespace

TEST_CASE("remove_tree: 4,000 nested directories with a handful of fds", "[remove_tree]") {
  TempDir tmp;
  make_deep(tmp / "deep", 4000);  // deeper (20,000) in test_root_safe_swap
  {
    FdLimit limit(6);
    remove_tree(tmp / "deep");
  }
  CHECK_FALSE(exists_no_follow(tmp / "deep"));
}

TEST_CASE("remove_tree: a wide directory is listed once (linear time)", "[remove_tree]") {
  TempDir tmp;
  const std::string root = tmp / "wide";
  make_dirs(root);
  for (int i = 0; i < 1000; ++i) make_dirs(root + "/d" + std::to_string(i) + "/inner");
  remove_tree(root);
  CHECK_FALSE(exists_no_follow(root));
}

TEST_CASE("remove_tree: a directory swapped for a symlink mid-removal never redirects it",
          "[remove_tree]") {
  // The owner of the tree races the removal: `tree/sub` becomes a symlink to
  // a directory outside (mode 0700, like root's own). Whatever the timing,
  // the outside keeps its files and its mode; the removal either finishes or
  // fails naming what changed.
  TempDir tmp;
  const std::string outside = tmp / "outside";
  make_dirs(outside + "/inner");
  write_file(outside + "/keep", "keep");
  write_file(outside + "/inner/keep2", "keep2");
  REQUIRE(::chmod((outside + "/inner").c_str(), 0500) == 0);
  REQUIRE(::chmod(outside.c_str(), 0700) == 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  int rounds = 0, failures = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string tree = tmp / ("tree" + std::to_string(rounds++));
    for (int i = 0; i < 30; ++i) make_dirs(tree + "/sub/d" + std::to_string(i) + "/e");
    REQUIRE(::chmod((tree + "/sub").c_str(), 0555) == 0);
    std::atomic<bool> stop{false};
    std::thread swapper([&] {
      while (!stop) {
        if (::rename((tree + "/sub").c_str(), (tree + "/moved").c_str()) == 0) {
          ::symlink(outside.c_str(), (tree + "/sub").c_str());
          return;
        }
      }
    });
    try {
      remove_tree(tree);
    } catch (const jb::Error&) {
      ++failures;
    }
    stop = true;
    swapper.join();
    struct stat st;
    REQUIRE(::lstat(outside.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(::lstat((outside + "/inner").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0500);
    CHECK(read_file(outside + "/keep") == "keep");
    CHECK(read_file(outside + "/inner/keep2") == "keep2");
  }
  INFO("rounds " << rounds << ", failures " << failures);
  CHECK(rounds > 0);
}

TEST_CASE("remove_tree: never empties another filesystem mounted in the tree", "[remove_tree]") {
  if (::geteuid() != 0) {
    WARN("needs root (mount)");
    return;
  }
  TempDir tmp;
  make_dirs(tmp / "tree/mnt");
  if (::mount("none", (tmp / "tree/mnt").c_str(), "tmpfs", 0, "size=64k") != 0) {
    WARN("cannot mount a tmpfs here");
    return;
  }
  write_file(tmp / "tree/mnt/keep", "keep");
  CHECK_THROWS_AS(remove_tree(tmp / "tree"), jb::Error);
  CHECK(read_file(tmp / "tree/mnt/keep") == "keep");
  ::umount2((tmp / "tree/mnt").c_str(), MNT_DETACH);
}
