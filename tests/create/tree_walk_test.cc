#include "jellyfin_backup/create/tree_walk.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/paths.h"
#include "test_util.h"

using jb::test::make_dirs;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

std::vector<std::string> paths_of(const jb::BackupPlan& plan) {
  std::vector<std::string> out;
  for (const auto& e : plan.entries) out.push_back(e.archive_path);
  return out;
}

const jb::PlannedEntry* find_entry(const jb::BackupPlan& plan, const std::string& path) {
  for (const auto& e : plan.entries)
    if (e.archive_path == path) return &e;
  return nullptr;
}

jb::BackupPlan plan_one(const std::string& name, const std::string& source,
                        std::vector<std::string> excludes = {}) {
  RecordingReporter reporter;
  jb::ExcludeSet set(std::move(excludes));
  jb::BackupPlan plan = jb::plan_backup({{name, source}}, set, reporter);
  CHECK(reporter.warnings.empty());
  return plan;
}

jb::ErrorKind kind_of_walk(const std::vector<jb::TreeSpec>& trees) {
  RecordingReporter reporter;
  try {
    jb::plan_backup(trees, jb::ExcludeSet{}, reporter);
  } catch (const jb::Error& e) {
    return e.kind();
  }
  FAIL("plan_backup did not throw");
  return jb::ErrorKind::kRefused;
}

}  // namespace

TEST_CASE("walk order: root first, depth-first, children in bytewise order", "[tree_walk]") {
  TempDir tmp;
  const std::string root = tmp / "data";
  make_dirs(root + "/a/x");
  make_dirs(root + "/B");
  write_file(root + "/a/x/deep.txt", "deep");
  write_file(root + "/a/z.txt", "z");
  write_file(root + "/a/Y.txt", "Y");
  write_file(root + "/a-b", "dash");  // '-' (0x2d) sorts before '.' and '/'
  write_file(root + "/a.b", "dot");
  write_file(root + "/b", "b");
  write_file(root + "/B/c", "c");
  write_file(root + "/_", "underscore");  // '_' (0x5f) is between 'B' and 'a'
  write_file(root + "/\xc3\xa9", "e-acute");  // UTF-8 bytes sort after ASCII

  jb::BackupPlan plan = plan_one("data", root);
  // Depth-first: everything under "a" comes before "a-b", although the path
  // "data/a-b" sorts before "data/a/..." as a string.
  const std::vector<std::string> expected = {
      "data",       "data/B",   "data/B/c",  "data/_",   "data/a",   "data/a/Y.txt",
      "data/a/x",   "data/a/x/deep.txt",     "data/a/z.txt",         "data/a-b",
      "data/a.b",   "data/b",   "data/\xc3\xa9",
  };
  CHECK(paths_of(plan) == expected);
  REQUIRE(plan.trees.size() == 1);
  CHECK(plan.trees[0].spec.name == "data");
  CHECK(plan.trees[0].spec.source == root);
  CHECK(S_ISDIR(plan.entries.front().st.st_mode));
}

TEST_CASE("two trees are walked in the order given, each root first", "[tree_walk]") {
  TempDir tmp;
  make_dirs(tmp / "c/sub");
  make_dirs(tmp / "d");
  write_file(tmp / "c/sub/f", "1");
  write_file(tmp / "d/g", "22");
  RecordingReporter reporter;
  jb::BackupPlan plan =
      jb::plan_backup({{"config", tmp / "c"}, {"data", tmp / "d"}}, jb::ExcludeSet{}, reporter);
  CHECK(paths_of(plan) ==
        std::vector<std::string>{"config", "config/sub", "config/sub/f", "data", "data/g"});
  REQUIRE(plan.entries.size() == 5);
  CHECK(plan.entries[0].tree == 0);
  CHECK(plan.entries[2].tree == 0);
  CHECK(plan.entries[3].tree == 1);
  CHECK(plan.entries[4].tree == 1);
  CHECK(plan.source_path(plan.entries[0]) == tmp / "c");
  CHECK(plan.source_path(plan.entries[2]) == tmp / "c/sub/f");
  CHECK(plan.source_path(plan.entries[4]) == tmp / "d/g");
  CHECK(plan.trees[0].entries == 3);
  CHECK(plan.trees[1].entries == 2);
  CHECK(plan.total_files() == 2);
  CHECK(plan.total_bytes() == 3);
}

TEST_CASE("counts: files, bytes and entries per tree", "[tree_walk]") {
  TempDir tmp;
  const std::string root = tmp / "data";
  make_dirs(root + "/dir/empty");
  write_file(root + "/one", std::string(100, 'a'));
  write_file(root + "/dir/two", std::string(2000, 'b'));
  write_file(root + "/dir/zero", "");
  REQUIRE(::symlink("one", (root + "/link").c_str()) == 0);
  REQUIRE(::mkfifo((root + "/fifo").c_str(), 0600) == 0);

  jb::BackupPlan plan = plan_one("data", root);
  const jb::PlannedTree& tree = plan.trees.at(0);
  // data, dir, dir/empty, dir/two, dir/zero, fifo, link, one
  CHECK(tree.entries == 8);
  CHECK(plan.entries.size() == 8);
  CHECK(tree.files == 3);  // symlinks, fifos and directories are not files
  CHECK(tree.bytes == 2100);
  CHECK(plan.total_files() == 3);
  CHECK(plan.total_bytes() == 2100);

  // Entries carry lstat() data: the symlink is a symlink, not its target.
  const jb::PlannedEntry* link = find_entry(plan, "data/link");
  REQUIRE(link != nullptr);
  CHECK(S_ISLNK(link->st.st_mode));
  const jb::PlannedEntry* fifo = find_entry(plan, "data/fifo");
  REQUIRE(fifo != nullptr);
  CHECK(S_ISFIFO(fifo->st.st_mode));
  const jb::PlannedEntry* two = find_entry(plan, "data/dir/two");
  REQUIRE(two != nullptr);
  CHECK(S_ISREG(two->st.st_mode));
  CHECK(two->st.st_size == 2000);
  CHECK(two->hardlink_target.empty());
}

TEST_CASE("hardlinks: the later link points at the first, bytes counted once", "[tree_walk]") {
  TempDir tmp;
  const std::string root = tmp / "data";
  make_dirs(root + "/a");
  make_dirs(root + "/b");
  write_file(root + "/a/first", std::string(1000, 'x'));
  REQUIRE(::link((root + "/a/first").c_str(), (root + "/b/second").c_str()) == 0);
  REQUIRE(::link((root + "/a/first").c_str(), (root + "/c-third").c_str()) == 0);
  write_file(root + "/solo", std::string(10, 'y'));

  jb::BackupPlan plan = plan_one("data", root);
  const jb::PlannedEntry* first = find_entry(plan, "data/a/first");
  const jb::PlannedEntry* second = find_entry(plan, "data/b/second");
  const jb::PlannedEntry* third = find_entry(plan, "data/c-third");
  REQUIRE(first != nullptr);
  REQUIRE(second != nullptr);
  REQUIRE(third != nullptr);
  CHECK(first->hardlink_target.empty());
  CHECK(second->hardlink_target == "data/a/first");
  CHECK(third->hardlink_target == "data/a/first");
  CHECK(first->st.st_ino == second->st.st_ino);

  const jb::PlannedTree& tree = plan.trees.at(0);
  CHECK(tree.files == 4);      // hardlinks count as files
  CHECK(tree.bytes == 1010);   // but their data is stored once
  CHECK(tree.entries == 7);    // data, a, a/first, b, b/second, c-third, solo
}

TEST_CASE("hardlinks across the two trees are stored as two files", "[tree_walk]") {
  // Each tree is restored on its own, possibly onto another filesystem: a
  // link across trees could not be recreated, so each tree gets the data.
  TempDir tmp;
  make_dirs(tmp / "c");
  make_dirs(tmp / "d");
  write_file(tmp / "d/shared", std::string(50, 's'));
  REQUIRE(::link((tmp / "d/shared").c_str(), (tmp / "c/shared").c_str()) == 0);
  RecordingReporter reporter;
  jb::BackupPlan plan =
      jb::plan_backup({{"config", tmp / "c"}, {"data", tmp / "d"}}, jb::ExcludeSet{}, reporter);
  const jb::PlannedEntry* in_config = find_entry(plan, "config/shared");
  const jb::PlannedEntry* in_data = find_entry(plan, "data/shared");
  REQUIRE(in_config != nullptr);
  REQUIRE(in_data != nullptr);
  CHECK(in_config->hardlink_target.empty());
  CHECK(in_data->hardlink_target.empty());
  CHECK(plan.trees[0].bytes == 50);
  CHECK(plan.trees[1].bytes == 50);
  CHECK(plan.trees[1].files == 1);
  CHECK(plan.total_bytes() == 100);
}

TEST_CASE("an excluded first link leaves the data with the next one", "[tree_walk]") {
  TempDir tmp;
  const std::string root = tmp / "data";
  make_dirs(root);
  write_file(root + "/a.log", std::string(30, 'l'));
  REQUIRE(::link((root + "/a.log").c_str(), (root + "/b.txt").c_str()) == 0);
  jb::BackupPlan plan = plan_one("data", root, {"*.log"});
  CHECK(paths_of(plan) == std::vector<std::string>{"data", "data/b.txt"});
  CHECK(plan.entries.at(1).hardlink_target.empty());
  CHECK(plan.trees[0].bytes == 30);
  CHECK(plan.trees[0].files == 1);
}

TEST_CASE("excluded entries are left out and excluded directories not descended", "[tree_walk]") {
  TempDir tmp;
  const std::string root = tmp / "data";
  make_dirs(root + "/transcodes/sub");
  make_dirs(root + "/keep");
  write_file(root + "/transcodes/big.ts", std::string(4000, 't'));
  write_file(root + "/transcodes/sub/more.ts", std::string(4000, 't'));
  write_file(root + "/keep/a.log", "log");
  write_file(root + "/keep/a.txt", "txt");
  // An unreadable directory below an excluded one must not even be opened.
  make_dirs(root + "/transcodes/locked");
  REQUIRE(::chmod((root + "/transcodes/locked").c_str(), 0) == 0);

  jb::BackupPlan plan = plan_one("data", root, {"transcodes/", "*.log"});
  CHECK(paths_of(plan) == std::vector<std::string>{"data", "data/keep", "data/keep/a.txt"});
  CHECK(plan.trees[0].files == 1);
  CHECK(plan.trees[0].bytes == 3);
  CHECK(plan.trees[0].entries == 3);
}

TEST_CASE("a dirs-only pattern keeps a file of the same name", "[tree_walk]") {
  TempDir tmp;
  const std::string root = tmp / "data";
  make_dirs(root + "/x/cache");
  make_dirs(root + "/y");
  write_file(root + "/x/cache/f", "f");
  write_file(root + "/y/cache", "file named cache");
  jb::BackupPlan plan = plan_one("data", root, {"cache/"});
  CHECK(paths_of(plan) == std::vector<std::string>{"data", "data/x", "data/y", "data/y/cache"});
}

TEST_CASE("a socket is skipped with a warning", "[tree_walk]") {
  TempDir tmp;
  const std::string root = tmp / "data";
  make_dirs(root);
  write_file(root + "/a", "a");
  write_file(root + "/z", "z");
  const std::string sock_path = root + "/server.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(sock_path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::close(fd);
  REQUIRE(bound == 0);
  struct stat st;
  REQUIRE(::lstat(sock_path.c_str(), &st) == 0);
  REQUIRE(S_ISSOCK(st.st_mode));

  RecordingReporter reporter;
  jb::BackupPlan plan = jb::plan_backup({{"data", root}}, jb::ExcludeSet{}, reporter);
  CHECK(paths_of(plan) == std::vector<std::string>{"data", "data/a", "data/z"});
  CHECK(plan.trees[0].entries == 3);
  REQUIRE(reporter.warnings.size() == 1);
  CHECK(reporter.warnings[0].find(sock_path) != std::string::npos);
  CHECK(reporter.warnings[0].find("socket") != std::string::npos);

  // An excluded socket is not worth a warning.
  RecordingReporter quiet;
  jb::ExcludeSet no_sockets({"*.sock"});
  jb::plan_backup({{"data", root}}, no_sockets, quiet);
  CHECK(quiet.warnings.empty());
}

TEST_CASE("an unreadable directory is a runtime error", "[tree_walk]") {
  if (::geteuid() == 0) {
    WARN("running as root, which reads every directory: skipped");
    return;
  }
  TempDir tmp;
  const std::string root = tmp / "data";
  make_dirs(root + "/locked");
  write_file(root + "/locked/secret", "s");
  REQUIRE(::chmod((root + "/locked").c_str(), 0) == 0);
  RecordingReporter reporter;
  try {
    jb::plan_backup({{"data", root}}, jb::ExcludeSet{}, reporter);
    FAIL("an unreadable directory was walked");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK(std::string(e.what()).find(root + "/locked") != std::string::npos);
  }
}

TEST_CASE("a missing root is an error", "[tree_walk]") {
  TempDir tmp;
  CHECK(kind_of_walk({{"data", tmp / "missing"}}) == jb::ErrorKind::kRuntime);
  make_dirs(tmp / "config");
  // The first tree is fine, the second is missing: still an error.
  CHECK(kind_of_walk({{"config", tmp / "config"}, {"data", tmp / "missing"}}) ==
        jb::ErrorKind::kRuntime);
}

TEST_CASE("a root that is not a directory is a usage error", "[tree_walk]") {
  TempDir tmp;
  write_file(tmp / "file", "x");
  CHECK(kind_of_walk({{"data", tmp / "file"}}) == jb::ErrorKind::kUsage);
}

TEST_CASE("a root is walked as resolved; a link left in its path is never followed", "[tree_walk]") {
  TempDir tmp;
  make_dirs(tmp / "real");
  write_file(tmp / "real/f", "abc");
  REQUIRE(::symlink((tmp / "real").c_str(), (tmp / "link").c_str()) == 0);
  // The caller resolves the path first (create does, with resolve_path)...
  CHECK(kind_of_walk({{"data", tmp / "link"}}) == jb::ErrorKind::kRuntime);
  // ...and the walk opens what that names from "/", through no link.
  jb::BackupPlan plan = plan_one("data", jb::resolve_path(tmp / "link", "--data"));
  CHECK(paths_of(plan) == std::vector<std::string>{"data", "data/f"});
  CHECK(S_ISDIR(plan.entries.at(0).st.st_mode));
  CHECK(plan.trees[0].bytes == 3);
}

TEST_CASE("symlinks below the root are not followed", "[tree_walk]") {
  TempDir tmp;
  make_dirs(tmp / "elsewhere");
  write_file(tmp / "elsewhere/outside", "outside");
  make_dirs(tmp / "data");
  REQUIRE(::symlink((tmp / "elsewhere").c_str(), (tmp / "data/dirlink").c_str()) == 0);
  jb::BackupPlan plan = plan_one("data", tmp / "data");
  CHECK(paths_of(plan) == std::vector<std::string>{"data", "data/dirlink"});
  CHECK(plan.trees[0].files == 0);
}

TEST_CASE("an entry more than kMaxTreeDepth levels deep is refused, naming it", "[tree_walk]") {
  TempDir tmp;
  make_dirs(tmp / "data");
  // kMaxTreeDepth nested directories: the deepest has kMaxTreeDepth components.
  int fd = ::open((tmp / "data").c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  std::string deepest = tmp / "data";
  for (std::size_t depth = 1; depth <= jb::kMaxTreeDepth; ++depth) {
    REQUIRE(::mkdirat(fd, "d", 0755) == 0);
    int child = ::openat(fd, "d", O_RDONLY | O_DIRECTORY);
    ::close(fd);
    REQUIRE(child >= 0);
    fd = child;
    deepest += "/d";
  }
  CHECK(plan_one("data", tmp / "data").entries.size() == jb::kMaxTreeDepth + 1);

  // One more level, a file: refused before anything is read.
  int file = ::openat(fd, "f", O_WRONLY | O_CREAT | O_EXCL, 0644);
  REQUIRE(file >= 0);
  ::close(file);
  ::close(fd);
  RecordingReporter reporter;
  try {
    jb::plan_backup({{"data", tmp / "data"}}, jb::ExcludeSet{}, reporter);
    FAIL("an entry deeper than the bound was planned");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK(std::string(e.what()) == deepest + "/f: lies more than " + std::to_string(jb::kMaxTreeDepth) +
                                       " levels deep below " + (tmp / "data"));
  }
}

TEST_CASE("paths longer than PATH_MAX are walked: every step is relative to a directory fd",
          "[tree_walk]") {
  TempDir tmp;
  make_dirs(tmp / "data");
  const std::string name(200, 'n');
  int fd = ::open((tmp / "data").c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  std::string archive_path = "data";
  while (archive_path.size() <= PATH_MAX + 200) {
    REQUIRE(::mkdirat(fd, name.c_str(), 0755) == 0);
    int child = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
    ::close(fd);
    REQUIRE(child >= 0);
    fd = child;
    archive_path += "/" + name;
  }
  int file = ::openat(fd, "deep.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
  REQUIRE(file >= 0);
  REQUIRE(::write(file, "deep", 4) == 4);
  ::close(file);
  ::close(fd);
  jb::BackupPlan plan = plan_one("data", tmp / "data");
  REQUIRE(!plan.entries.empty());
  CHECK(plan.entries.back().archive_path == archive_path + "/deep.txt");
  CHECK(plan.trees[0].bytes == 4);
  CHECK(plan.trees[0].files == 1);
}

TEST_CASE("a directory swapped for a symlink while walking is never entered", "[tree_walk][root_safe]") {
  // The owner of the tree flips data/metadata between a directory and a
  // symlink to a secret directory as fast as it can while the walk runs. Each
  // walk either plans the real directory, skips a symlink as a symlink, or
  // fails with changed_while_read: it never plans the secret.
  TempDir tmp;
  make_dirs(tmp / "data/metadata/sub");
  write_file(tmp / "data/metadata/sub/poster.jpg", "poster");
  make_dirs(tmp / "secret/sub");
  write_file(tmp / "secret/sub/shadow", "SECRET");
  for (int i = 0; i < 50; ++i) write_file(tmp / ("data/f" + std::to_string(i)), "x");
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    const std::string meta = tmp / "data/metadata", moved = tmp / "metadata.real";
    const std::string link = tmp / "metadata.link";
    if (::symlink((tmp / "secret").c_str(), link.c_str()) != 0) return;  // walks then see no change
    while (!stop) {
      ::rename(meta.c_str(), moved.c_str());
      ::rename(link.c_str(), meta.c_str());
      ::rename(meta.c_str(), link.c_str());
      ::rename(moved.c_str(), meta.c_str());
    }
  });
  int walks = 0, changed = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < until) {
    ++walks;
    RecordingReporter reporter;
    try {
      jb::BackupPlan plan = jb::plan_backup({{"data", tmp / "data"}}, jb::ExcludeSet{}, reporter);
      const bool secret_planned = std::any_of(plan.entries.begin(), plan.entries.end(), [](const auto& e) {
        return e.archive_path.find("shadow") != std::string::npos;
      });
      CHECK_FALSE(secret_planned);
    } catch (const jb::Error& e) {
      CHECK(e.kind() == jb::ErrorKind::kRuntime);
      ++changed;
    }
  }
  stop = true;
  flipper.join();
  CHECK(walks > 0);
  INFO(walks << " walks, " << changed << " saw the tree change");
}
