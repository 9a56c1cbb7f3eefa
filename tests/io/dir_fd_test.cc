#include "jellyfin_backup/io/dir_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::DirFd;
using jb::Error;
using jb::test::make_dirs;
using jb::test::TempDir;
using jb::test::write_file;

TEST_CASE("DirFd lists a directory sorted, without . and .., by prefix") {
  TempDir tmp;
  make_dirs(tmp.path() + "/d/sub");
  write_file(tmp.path() + "/d/b", "b");
  write_file(tmp.path() + "/d/a.bak-1", "a");
  write_file(tmp.path() + "/d/a.bak-2", "a");
  DirFd dir = DirFd::open(tmp.path() + "/d");
  CHECK(dir.list() == std::vector<std::string>{"a.bak-1", "a.bak-2", "b", "sub"});
  CHECK(dir.list("a.bak-") == std::vector<std::string>{"a.bak-1", "a.bak-2"});
  CHECK(dir.list("zzz").empty());
  // Twice in a row: each list reads from the start.
  CHECK(dir.list().size() == 4);
}

TEST_CASE("DirFd never opens a directory through a symlink") {
  TempDir tmp;
  make_dirs(tmp.path() + "/tree/real");
  make_dirs(tmp.path() + "/outside");
  REQUIRE(::symlink((tmp.path() + "/outside").c_str(), (tmp.path() + "/tree/link").c_str()) == 0);
  DirFd tree = DirFd::open(tmp.path() + "/tree");
  CHECK_NOTHROW(tree.open_dir("real"));
  CHECK_THROWS_AS(tree.open_dir("link"), Error);
  CHECK_THROWS_AS(tree.open_dir_if_exists("link"), Error);
  CHECK_FALSE(tree.open_dir_if_exists("missing").has_value());
  CHECK_THROWS_AS(tree.open_beneath("link/x"), Error);
  CHECK_THROWS_AS(tree.open_beneath("real/../link"), Error);
  CHECK(tree.open_beneath("real").path() == tmp.path() + "/tree/real");
  // A symlink's own stat, not its target's.
  auto st = tree.stat_at("link");
  REQUIRE(st);
  CHECK(S_ISLNK(st->st_mode));
  CHECK_FALSE(tree.stat_at("missing"));
  // What was opened is what was planned.
  CHECK(jb::same_file(tree.open_dir("real").stat(), *tree.stat_at("real")));
  CHECK_FALSE(jb::same_file(tree.stat(), *tree.stat_at("real")));
}

TEST_CASE("DirFd keeps its directory when the path is swapped after the open") {
  TempDir tmp;
  make_dirs(tmp.path() + "/tree/a");
  make_dirs(tmp.path() + "/elsewhere");
  write_file(tmp.path() + "/tree/a/file", "mine");
  write_file(tmp.path() + "/elsewhere/file", "theirs");
  DirFd a = DirFd::open(tmp.path() + "/tree/a");
  REQUIRE(::rename((tmp.path() + "/tree/a").c_str(), (tmp.path() + "/tree/moved").c_str()) == 0);
  REQUIRE(::symlink((tmp.path() + "/elsewhere").c_str(), (tmp.path() + "/tree/a").c_str()) == 0);
  jb::UniqueFd fd = a.open_at("file", O_RDONLY);
  REQUIRE(fd);
  char buf[16] = {};
  CHECK(::read(fd.get(), buf, sizeof buf) == 4);
  CHECK(std::string(buf) == "mine");
}

TEST_CASE("open_regular_file refuses FIFOs, symlinks and directories without blocking") {
  TempDir tmp;
  const std::string fifo = tmp.path() + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  write_file(tmp.path() + "/file", "x");
  REQUIRE(::symlink("file", (tmp.path() + "/link").c_str()) == 0);
  make_dirs(tmp.path() + "/dir");
  DirFd dir = DirFd::open(tmp.path());
  CHECK_FALSE(jb::open_regular_file(dir.fd(), "fifo"));  // returns at once: O_NONBLOCK
  CHECK(errno == EINVAL);
  CHECK_FALSE(jb::open_regular_file(dir.fd(), "link"));
  CHECK(errno == ELOOP);
  CHECK_FALSE(jb::open_regular_file(dir.fd(), "dir"));
  CHECK(errno == EISDIR);
  jb::UniqueFd ok = jb::open_regular_file(AT_FDCWD, tmp.path() + "/file");
  REQUIRE(ok);
  CHECK((::fcntl(ok.get(), F_GETFL) & O_NONBLOCK) == 0);
}
