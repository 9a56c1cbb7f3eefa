#include "jellyfin_backup/restore/kept_entries.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::DirFd;
using jb::KeepRule;
using jb::KeptEntry;
using jb::Manifest;
using jb::test::make_dirs;
using jb::test::read_file;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<KeptEntry> keep(const std::string& current, const std::string& staged, const KeepRule& rule,
                            const std::vector<std::string>& skip = {}) {
  jb::Reporter silent;
  return jb::keep_from_current(DirFd::open(current), DirFd::open(staged), rule, skip, silent);
}

std::vector<std::string> paths_of(const std::vector<KeptEntry>& kept) {
  std::vector<std::string> out;
  for (const auto& k : kept) out.push_back(k.path);
  return out;
}

}  // namespace

TEST_CASE("KeepRule: what the manifest says the archive left out of a tree", "[kept]") {
  Manifest m;
  m.excludes = {"data/metadata/*", "*.tmp"};
  m.left_out = {{"log", "data/log", "/var/lib/jellyfin/log"},
                {"cache", "config/cache", "/etc/jellyfin/cache"},
                {"previous tree", "data/config.bak-20260101T000000Z", "/x"}};
  const KeepRule data = KeepRule::left_out_by(m, "data");
  CHECK(data.reason("metadata/library", true) == "--exclude 'data/metadata/*'");
  CHECK(data.reason("a/b/c.tmp", false) == "--exclude '*.tmp'");
  CHECK(data.reason("log", true) == "log directory, never backed up");
  CHECK_FALSE(data.reason("metadata", true));  // the pattern matches below it only
  CHECK_FALSE(data.reason("config.bak-20260101T000000Z", true));  // goes with the old tree
  CHECK_FALSE(data.reason("cache", true));                        // config's, not data's

  const KeepRule config = KeepRule::left_out_by(m, "config");
  CHECK(config.reason("cache", true) == "cache directory, never backed up");
  CHECK_FALSE(config.reason("metadata/x", true));  // "data/metadata/*" is data's
  CHECK(config.reason("x.tmp", false));

  Manifest none;
  CHECK(KeepRule::left_out_by(none, "data").empty());

  Manifest hostile;
  hostile.excludes = {"/etc/*"};
  CHECK(jb::test::error_of([&] { KeepRule::left_out_by(hostile, "data"); }).kind() == jb::ErrorKind::kDamaged);
}

TEST_CASE("KeepRule: only paths, no patterns, descends only towards them", "[kept]") {
  KeepRule rule("data");
  rule.add("a/b/c", "damaged");
  CHECK(rule.may_keep_below(""));
  CHECK(rule.may_keep_below("a"));
  CHECK(rule.may_keep_below("a/b"));
  CHECK_FALSE(rule.may_keep_below("a/b/c"));
  CHECK_FALSE(rule.may_keep_below("x"));
  CHECK_FALSE(rule.may_keep_below("a/bb"));
  CHECK(rule.reason("a/b/c", false) == "damaged");
}

TEST_CASE("keep_from_current links what the archive left out into the staged tree", "[kept]") {
  TempDir tmp;
  const std::string cur = tmp.path() + "/cur", stg = tmp.path() + "/stg";
  make_dirs(cur + "/metadata/library/ab");
  write_file(cur + "/metadata/library/ab/poster.jpg", "JPEG");
  write_file(cur + "/metadata/people.nfo", "nfo");
  make_dirs(cur + "/log");
  write_file(cur + "/log/server.log", "log line\n");
  REQUIRE(::symlink("/etc/passwd", (cur + "/log/latest").c_str()) == 0);
  make_dirs(cur + "/plugins/old");
  write_file(cur + "/plugins/old/x.tmp", "tmp");  // below a dir the archive has
  make_dirs(cur + "/newdir");
  write_file(cur + "/newdir/y.tmp", "tmp");  // below a dir the archive lacks
  write_file(cur + "/z.tmp", "cur");         // the archive has its own z.tmp
  ::chmod((cur + "/metadata/library").c_str(), 0750);
  const timespec old_time[2] = {{0, UTIME_OMIT}, {1600000000, 123456789}};
  REQUIRE(::utimensat(AT_FDCWD, (cur + "/metadata/library").c_str(), old_time, 0) == 0);

  make_dirs(stg + "/metadata");
  make_dirs(stg + "/plugins/old");
  write_file(stg + "/z.tmp", "archive");

  Manifest m;
  m.excludes = {"data/metadata/*", "*.tmp"};
  m.left_out = {{"log", "data/log", cur + "/log"}};
  const auto kept = keep(cur, stg, KeepRule::left_out_by(m, "data"));
  CHECK(paths_of(kept) == std::vector<std::string>{"data/log", "data/metadata/library", "data/metadata/people.nfo",
                                                   "data/plugins/old/x.tmp"});
  CHECK(kept[0].reason == "log directory, never backed up");
  CHECK(kept[0].entries == 3);  // the dir, server.log, the symlink
  CHECK(kept[0].bytes == 9);
  CHECK(kept[1].entries == 3);  // library, ab, poster.jpg
  CHECK(kept[1].reason == "--exclude 'data/metadata/*'");

  // Files are the same inodes (hard links); a symlink is linked, not followed.
  const struct stat a = lstat_of(cur + "/metadata/library/ab/poster.jpg");
  const struct stat b = lstat_of(stg + "/metadata/library/ab/poster.jpg");
  CHECK(a.st_ino == b.st_ino);
  CHECK(S_ISLNK(lstat_of(stg + "/log/latest").st_mode));
  // Directories are made anew with the current ones' mode and mtime.
  const struct stat d = lstat_of(stg + "/metadata/library");
  CHECK(d.st_ino != lstat_of(cur + "/metadata/library").st_ino);
  CHECK((d.st_mode & 07777) == 0750);
  CHECK(d.st_mtim.tv_sec == 1600000000);
  CHECK(d.st_mtim.tv_nsec == 123456789);
  // What the archive has is the archive's; nothing below a directory it lacks.
  CHECK(read_file(stg + "/z.tmp") == "archive");
  CHECK_FALSE(exists(stg + "/newdir"));
  // The current tree is as it was.
  CHECK(read_file(cur + "/metadata/library/ab/poster.jpg") == "JPEG");
  CHECK(read_file(cur + "/z.tmp") == "cur");
  CHECK(exists(cur + "/log/latest"));
}

TEST_CASE("keep_from_current passes over the skipped paths and our own names", "[kept]") {
  TempDir tmp;
  const std::string cur = tmp.path() + "/cur", stg = tmp.path() + "/stg";
  make_dirs(cur + "/config");
  write_file(cur + "/config/a.tmp", "nested tree's");
  make_dirs(cur + "/.jellyfin-backup-old.bak-20260101T000000Z");
  write_file(cur + "/.jellyfin-backup-old.bak-20260101T000000Z/b.tmp", "old tree's");
  write_file(cur + "/c.tmp", "kept");
  make_dirs(stg + "/config");
  Manifest m;
  m.excludes = {"*.tmp", ".jellyfin-backup-*"};
  const auto kept = keep(cur, stg, KeepRule::left_out_by(m, "data"), {"config"});
  CHECK(paths_of(kept) == std::vector<std::string>{"data/c.tmp"});
}

TEST_CASE("keep_from_current with nothing to keep touches nothing", "[kept]") {
  TempDir tmp;
  make_dirs(tmp.path() + "/cur/log");
  make_dirs(tmp.path() + "/stg");
  CHECK(keep(tmp.path() + "/cur", tmp.path() + "/stg", KeepRule("data")).empty());
  CHECK_FALSE(exists(tmp.path() + "/stg/log"));
}

TEST_CASE("keep_from_current refuses the staged tree renamed into what is kept", "[kept]") {
  // Inside a mount point the staging directory lies in the current tree; its
  // owner may rename it to "log": linking it into itself would never end.
  TempDir tmp;
  const std::string cur = tmp.path() + "/cur";
  make_dirs(cur + "/log");
  write_file(cur + "/log/a.log", "x");
  make_dirs(cur + "/.jellyfin-backup-staging.1/x");
  Manifest m;
  m.left_out = {{"log", "data/log", cur + "/log"}};
  REQUIRE(::rename((cur + "/log").c_str(), (cur + "/log.old").c_str()) == 0);
  REQUIRE(::rename((cur + "/.jellyfin-backup-staging.1").c_str(), (cur + "/log").c_str()) == 0);
  jb::Reporter silent;
  const auto e = jb::test::error_of([&] {
    jb::keep_from_current(DirFd::open(cur), DirFd::open(cur + "/log"), KeepRule::left_out_by(m, "data"), {}, silent);
  });
  CHECK(e.kind() == jb::ErrorKind::kRefused);
  CHECK_FALSE(exists(cur + "/log/log"));
}
