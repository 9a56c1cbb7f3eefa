#include "jellyfin_backup/restore/tree_diff.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "test_util.h"

using jb::diff_trees;
using jb::TreeDiff;
using jb::test::make_dirs;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

void set_mtime(const std::string& path, time_t sec, long nsec = 0) {
  const timespec times[2] = {{sec, 0}, {sec, nsec}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

bool listed(const std::vector<std::string>& paths, const std::string& path) {
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

// The same small tree, with the same mtimes, under `root`.
void make_tree(const std::string& root) {
  make_dirs(root + "/sub/deeper");
  write_file(root + "/same.txt", "same");
  write_file(root + "/sub/same2.txt", "same too");
  write_file(root + "/sub/deeper/same3.txt", "and this");
  REQUIRE(::symlink("same.txt", (root + "/link").c_str()) == 0);
  set_mtime(root + "/same.txt", 1700000000, 5);
  set_mtime(root + "/sub/same2.txt", 1700000001);
  set_mtime(root + "/sub/deeper/same3.txt", 1700000002);
  set_mtime(root + "/link", 1700000003);
}

}  // namespace

TEST_CASE("tree_diff: identical trees are all unchanged", "[tree_diff]") {
  TempDir tmp;
  make_tree(tmp / "staged");
  make_tree(tmp / "target");
  // Directory mtimes differ (they follow their contents): not a change.
  set_mtime(tmp / "target/sub", 1600000000);
  TreeDiff d = diff_trees(tmp / "staged", tmp / "target");
  CHECK(d.added == 0);
  CHECK(d.removed == 0);
  CHECK(d.changed == 0);
  // same.txt, link, sub, sub/same2.txt, sub/deeper, sub/deeper/same3.txt
  CHECK(d.unchanged == 6);
  CHECK(d.added_paths.empty());
  CHECK(d.removed_paths.empty());
  CHECK(d.changed_paths.empty());
}

TEST_CASE("tree_diff: added, removed, changed and unchanged", "[tree_diff]") {
  TempDir tmp;
  const std::string staged = tmp / "staged", target = tmp / "target";
  make_tree(staged);
  make_tree(target);

  // Added: only in the staged tree.
  write_file(staged + "/sub/new.txt", "new");
  make_dirs(staged + "/newdir");
  // Removed: only in the target.
  write_file(target + "/sub/deeper/gone.txt", "gone");
  // Changed: size, mode, mtime (ns), symlink target, type.
  write_file(staged + "/size.txt", "longer");
  write_file(target + "/size.txt", "short");
  set_mtime(staged + "/size.txt", 1700000000);
  set_mtime(target + "/size.txt", 1700000000);
  write_file(staged + "/mode.txt", "m", 0600);
  write_file(target + "/mode.txt", "m", 0644);
  set_mtime(staged + "/mode.txt", 1700000000);
  set_mtime(target + "/mode.txt", 1700000000);
  write_file(staged + "/mtime.txt", "t");
  write_file(target + "/mtime.txt", "t");
  set_mtime(staged + "/mtime.txt", 1700000000, 1);
  set_mtime(target + "/mtime.txt", 1700000000, 2);
  REQUIRE(::symlink("a", (staged + "/other-link").c_str()) == 0);
  REQUIRE(::symlink("b", (target + "/other-link").c_str()) == 0);
  set_mtime(staged + "/other-link", 1700000000);
  set_mtime(target + "/other-link", 1700000000);
  make_dirs(staged + "/type");
  write_file(target + "/type", "was a file");

  TreeDiff d = diff_trees(staged, target);
  CHECK(d.added == 2);
  CHECK(listed(d.added_paths, "sub/new.txt"));
  CHECK(listed(d.added_paths, "newdir"));
  CHECK(d.removed == 1);
  CHECK(d.removed_paths == std::vector<std::string>{"sub/deeper/gone.txt"});
  CHECK(d.changed == 5);
  for (const char* p : {"size.txt", "mode.txt", "mtime.txt", "other-link", "type"}) {
    INFO(p);
    CHECK(listed(d.changed_paths, p));
  }
  CHECK(d.unchanged == 6);
  CHECK(d.added_paths.size() == d.added);
  CHECK(d.changed_paths.size() == d.changed);
}

TEST_CASE("tree_diff: a directory's mode change is a change", "[tree_diff]") {
  TempDir tmp;
  make_tree(tmp / "staged");
  make_tree(tmp / "target");
  REQUIRE(::chmod((tmp / "staged/sub").c_str(), 0750) == 0);
  REQUIRE(::chmod((tmp / "target/sub").c_str(), 0755) == 0);
  TreeDiff d = diff_trees(tmp / "staged", tmp / "target");
  CHECK(d.changed == 1);
  CHECK(d.changed_paths == std::vector<std::string>{"sub"});
}

TEST_CASE("tree_diff: a missing target means everything is added", "[tree_diff]") {
  TempDir tmp;
  make_tree(tmp / "staged");
  TreeDiff d = diff_trees(tmp / "staged", tmp / "missing");
  CHECK(d.added == 6);
  CHECK(d.removed == 0);
  CHECK(d.changed == 0);
  CHECK(d.unchanged == 0);
  CHECK(d.added_paths.size() == 6);
  for (const char* p : {"same.txt", "link", "sub", "sub/same2.txt", "sub/deeper",
                        "sub/deeper/same3.txt"}) {
    INFO(p);
    CHECK(listed(d.added_paths, p));
  }
}

TEST_CASE("tree_diff: an empty staged tree removes everything", "[tree_diff]") {
  TempDir tmp;
  make_dirs(tmp / "staged");
  make_tree(tmp / "target");
  TreeDiff d = diff_trees(tmp / "staged", tmp / "target");
  CHECK(d.added == 0);
  CHECK(d.removed == 6);
  CHECK(d.unchanged == 0);
}

TEST_CASE("tree_diff: path lists are capped, counts are not", "[tree_diff]") {
  TempDir tmp;
  make_dirs(tmp / "staged");
  for (int i = 0; i < 50; ++i) write_file(tmp / ("staged/f" + std::to_string(i)), "x");
  TreeDiff d = diff_trees(tmp / "staged", tmp / "missing");
  CHECK(d.added == 50);
  CHECK(d.added_paths.size() < 50);
  CHECK_FALSE(d.added_paths.empty());
}
