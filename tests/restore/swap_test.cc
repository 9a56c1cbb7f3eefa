#include "jellyfin_backup/restore/swap.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/remove_tree.h"
#include "jellyfin_backup/restore/staging_dir.h"
#include "jellyfin_backup/restore/state_dir.h"
#include "test_util.h"

using jb::SwapOutcome;
using jb::SwapPlan;
using jb::SwapTree;
using jb::test::make_dirs;
using jb::test::read_file;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

using StateDir = jb::test::PrivateStateDir;

bool exists_no_follow(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

template <typename F>
jb::ErrorKind kind_of(F&& f) {
  try {
    f();
  } catch (const jb::Error& e) {
    return e.kind();
  }
  FAIL("no jb::Error thrown");
  return jb::ErrorKind::kRuntime;
}

// Two trees, config and data, in a TempDir: old trees at the targets (unless
// `targets_exist` is false), new ones staged beside them, the plan to swap.
struct Setup {
  StateDir state;
  TempDir tmp;
  SwapPlan plan;

  explicit Setup(bool targets_exist = true, bool discard_old = false) {
    plan.archive = tmp / "jellyfin.20260101T000000Z_10.11.0.tar.zst";
    plan.archive_created = "2026-01-01T00:00:00Z";
    plan.discard_old = discard_old;
    for (const char* name : {"config", "data"}) {
      const std::string target = tmp / name;
      if (targets_exist) {
        make_dirs(target + "/sub");
        write_file(target + "/which", std::string("old ") + name);
        write_file(target + "/sub/only-old", "old");
      }
      jb::StagingDir staging = jb::StagingDir::create(target);
      staging.release();
      make_dirs(staging.path() + "/sub");
      write_file(staging.path() + "/which", std::string("new ") + name);
      write_file(staging.path() + "/sub/only-new", "new");
      REQUIRE(::chmod(staging.path().c_str(), 0755) == 0);
      struct stat st;
      REQUIRE(::lstat(staging.path().c_str(), &st) == 0);
      plan.trees.push_back({name, target, staging.id(), "20260101T000000Z", targets_exist,
                            st.st_dev, st.st_ino});
    }
  }

  const SwapTree& config() const { return plan.trees[0]; }
  const SwapTree& data() const { return plan.trees[1]; }

  // renameat2(RENAME_EXCHANGE) as complete_swap's first step would do.
  static void exchange(const SwapTree& t) {
    REQUIRE(::renameat2(AT_FDCWD, t.staging().c_str(), AT_FDCWD, t.target.c_str(),
                        RENAME_EXCHANGE) == 0);
  }
};

void check_new_in_place(const SwapTree& t) {
  INFO(t.name);
  CHECK(read_file(t.target + "/which") == "new " + t.name);
  CHECK(exists_no_follow(t.target + "/sub/only-new"));
  CHECK_FALSE(exists_no_follow(t.target + "/sub/only-old"));
  CHECK_FALSE(exists_no_follow(t.staging()));
  CHECK_FALSE(exists_no_follow(jb::journal_path(t.target)));
}

void check_old_in_place(const SwapTree& t) {
  INFO(t.name);
  CHECK(read_file(t.target + "/which") == "old " + t.name);
  CHECK(exists_no_follow(t.target + "/sub/only-old"));
  CHECK_FALSE(exists_no_follow(t.target + "/sub/only-new"));
  CHECK_FALSE(exists_no_follow(t.staging()));
  CHECK_FALSE(exists_no_follow(t.backup()));
  CHECK_FALSE(exists_no_follow(jb::journal_path(t.target)));
}

void check_backup_is_old(const SwapTree& t) {
  INFO(t.name);
  CHECK(read_file(t.backup() + "/which") == "old " + t.name);
  CHECK(exists_no_follow(t.backup() + "/sub/only-old"));
}

}  // namespace

TEST_CASE("swap: journal_path names a file in the state directory, keyed by the target",
          "[swap]") {
  StateDir state;
  const std::string a = jb::journal_path("/var/lib/jellyfin");
  CHECK(a.rfind(state.path + "/restore-", 0) == 0);
  CHECK(a.size() > std::string("-jellyfin.journal").size());
  CHECK(a.substr(a.size() - std::string("-jellyfin.journal").size()) == "-jellyfin.journal");
  // Same last component, different trees: different journals.
  CHECK(jb::journal_path("/srv/a/jellyfin") != jb::journal_path("/srv/b/jellyfin"));
  // Odd bytes never reach the file name.
  const std::string odd = jb::journal_path("/srv/x\ny/../\x1b[2J");
  CHECK(odd.find('\n') == std::string::npos);
  CHECK(odd.find('\x1b') == std::string::npos);
}

TEST_CASE("swap: write_journal puts a journal for every target in the state directory",
          "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  for (const auto& t : s.plan.trees) CHECK(exists_no_follow(jb::journal_path(t.target)));
  // Nothing beside the targets, and nothing was moved yet.
  CHECK(list_dir(s.tmp.path()) ==
        std::vector<std::string>{".config.jellyfin-backup-staging." + std::to_string(::getpid()),
                                 ".data.jellyfin-backup-staging." + std::to_string(::getpid()), "config",
                                 "data"});
  CHECK(read_file(s.config().target + "/which") == "old config");
  CHECK(read_file(s.config().staging() + "/which") == "new config");
  struct stat st;
  REQUIRE(::lstat(s.state.path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);

  for (const auto& t : s.plan.trees) {
    auto back = jb::read_journal(t.target);
    REQUIRE(back);
    CHECK(back->archive == s.plan.archive);
    CHECK(back->archive_created == s.plan.archive_created);
    CHECK(back->discard_old == s.plan.discard_old);
    REQUIRE(back->trees.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      const SwapTree& a = back->trees[i];
      const SwapTree& b = s.plan.trees[i];
      CHECK(a.name == b.name);
      CHECK(a.target == b.target);
      CHECK(a.staging() == b.staging());
      CHECK(a.backup() == b.backup());
      CHECK(a.target_existed == b.target_existed);
      CHECK(a.staged_dev == b.staged_dev);
      CHECK(a.staged_ino == b.staged_ino);
    }
  }
}

TEST_CASE("swap: read_journal without a journal", "[swap]") {
  StateDir state;
  TempDir tmp;
  CHECK_FALSE(jb::read_journal(tmp / "data").has_value());
}

TEST_CASE("swap: write_journal refuses when a journal exists", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  const std::string before = read_file(jb::journal_path(s.data().target));
  CHECK(kind_of([&] { jb::write_journal(s.plan); }) == jb::ErrorKind::kRefused);
  CHECK(read_file(jb::journal_path(s.data().target)) == before);
}

TEST_CASE("swap: check_no_pending_restore", "[swap]") {
  Setup s;
  const std::vector<std::string> targets{s.config().target, s.data().target};
  CHECK_NOTHROW(jb::check_no_pending_restore(targets));
  jb::write_journal(s.plan);
  CHECK(kind_of([&] { jb::check_no_pending_restore(targets); }) == jb::ErrorKind::kRefused);
  // One journal is enough to refuse.
  REQUIRE(::unlink(jb::journal_path(s.config().target).c_str()) == 0);
  CHECK(kind_of([&] { jb::check_no_pending_restore(targets); }) == jb::ErrorKind::kRefused);
  CHECK(kind_of([&] { jb::check_no_pending_restore({s.data().target}); }) ==
        jb::ErrorKind::kRefused);
  CHECK_NOTHROW(jb::check_no_pending_restore({s.config().target}));
}

TEST_CASE("swap: read_journal of garbage is damage", "[swap]") {
  StateDir state;
  make_dirs(state.path);
  REQUIRE(::chmod(state.path.c_str(), 0700) == 0);
  TempDir tmp;
  const std::string target = tmp / "data";
  const std::string journal = jb::journal_path(target);
  SECTION("not JSON") { write_file(journal, "\x01\x02 not json {"); }
  SECTION("empty") { write_file(journal, ""); }
  SECTION("JSON, but not a journal") { write_file(journal, R"({"hello": "world"})"); }
  SECTION("a journal missing its trees") {
    write_file(journal, R"({"journal": "jellyfin-backup restore", "version": 1,
                           "archive": "a", "archive_created": "b", "discard_old": false})");
  }
  SECTION("a journal with mistyped fields") {
    write_file(journal, R"({"journal": "jellyfin-backup restore", "version": 1,
                           "archive": "a", "archive_created": "b", "discard_old": false,
                           "trees": [{"name": 1}]})");
  }
  SECTION("an array") { write_file(journal, "[1, 2, 3]"); }
  CHECK(kind_of([&] { jb::read_journal(target); }) == jb::ErrorKind::kDamaged);
}

TEST_CASE("swap: complete_swap puts the new trees in place, the old ones aside", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  for (const auto& t : s.plan.trees) {
    check_new_in_place(t);
    check_backup_is_old(t);
  }
  CHECK(list_dir(s.tmp.path()) ==
        std::vector<std::string>{"config", "config.bak-20260101T000000Z", "data",
                                 "data.bak-20260101T000000Z"});
  CHECK(reporter.warnings.empty());
  CHECK_NOTHROW(jb::check_no_pending_restore({s.config().target, s.data().target}));
}

TEST_CASE("swap: complete_swap is idempotent once done", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  RecordingReporter reporter;
  REQUIRE(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  for (const auto& t : s.plan.trees) {
    check_new_in_place(t);
    check_backup_is_old(t);
  }
}

TEST_CASE("swap: discard_old keeps no backup", "[swap]") {
  Setup s(/*targets_exist=*/true, /*discard_old=*/true);
  jb::write_journal(s.plan);
  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  for (const auto& t : s.plan.trees) {
    check_new_in_place(t);
    CHECK_FALSE(exists_no_follow(t.backup()));
  }
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"config", "data"});
}

TEST_CASE("swap: discard_old copes with a read-only old tree", "[swap]") {
  Setup s(/*targets_exist=*/true, /*discard_old=*/true);
  REQUIRE(::chmod((s.data().target + "/sub").c_str(), 0555) == 0);
  REQUIRE(::chmod(s.data().target.c_str(), 0555) == 0);
  jb::write_journal(s.plan);
  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  check_new_in_place(s.data());
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"config", "data"});
}

TEST_CASE("swap: a target that does not exist is renamed into place", "[swap]") {
  Setup s(/*targets_exist=*/false);
  jb::write_journal(s.plan);
  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  for (const auto& t : s.plan.trees) {
    check_new_in_place(t);
    CHECK_FALSE(exists_no_follow(t.backup()));
  }
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"config", "data"});
}

TEST_CASE("swap: interrupted after the first exchange, completed", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  Setup::exchange(s.config());
  // The state a crash leaves: config new (old under the staging name), data old.
  REQUIRE(read_file(s.config().target + "/which") == "new config");
  REQUIRE(read_file(s.config().staging() + "/which") == "old config");
  REQUIRE(read_file(s.data().target + "/which") == "old data");

  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  for (const auto& t : s.plan.trees) {
    check_new_in_place(t);
    check_backup_is_old(t);
  }
}

TEST_CASE("swap: interrupted after both exchanges and one move aside, completed", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  Setup::exchange(s.config());
  Setup::exchange(s.data());
  REQUIRE(::rename(s.config().staging().c_str(), s.config().backup().c_str()) == 0);

  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  for (const auto& t : s.plan.trees) {
    check_new_in_place(t);
    check_backup_is_old(t);
  }
}

TEST_CASE("swap: interrupted with only the journal removal left, completed", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  for (const auto& t : s.plan.trees) {
    Setup::exchange(t);
    REQUIRE(::rename(t.staging().c_str(), t.backup().c_str()) == 0);
  }
  REQUIRE(::unlink(jb::journal_path(s.config().target).c_str()) == 0);
  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  for (const auto& t : s.plan.trees) {
    check_new_in_place(t);
    check_backup_is_old(t);
  }
}

TEST_CASE("swap: a staged tree gone before its exchange rolls everything back", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  Setup::exchange(s.config());
  jb::remove_tree(s.data().staging());  // the unswapped tree's staging vanished

  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kRolledBack);
  for (const auto& t : s.plan.trees) check_old_in_place(t);
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"config", "data"});
  CHECK_FALSE(reporter.warnings.empty());
  CHECK_NOTHROW(jb::check_no_pending_restore({s.config().target, s.data().target}));
}

TEST_CASE("swap: roll back where a target did not exist before", "[swap]") {
  Setup s(/*targets_exist=*/false);
  jb::write_journal(s.plan);
  // config was renamed into place; data's staged tree is gone.
  REQUIRE(::rename(s.config().staging().c_str(), s.config().target.c_str()) == 0);
  jb::remove_tree(s.data().staging());

  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kRolledBack);
  CHECK(list_dir(s.tmp.path()).empty());
}

TEST_CASE("swap: a staged tree gone before anything was swapped", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  jb::remove_tree(s.config().staging());

  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kRolledBack);
  for (const auto& t : s.plan.trees) check_old_in_place(t);
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"config", "data"});
}

TEST_CASE("swap: a different directory under the staging name is not the staged tree",
          "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  // Replaced by something else with the same name: identity is the inode.
  // (Made before the original goes, so it cannot reuse the inode number.)
  make_dirs(s.tmp / "impostor");
  write_file(s.tmp / "impostor/which", "impostor");
  jb::remove_tree(s.data().staging());
  REQUIRE(::rename((s.tmp / "impostor").c_str(), s.data().staging().c_str()) == 0);

  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kRolledBack);
  CHECK(read_file(s.data().target + "/which") == "old data");
  CHECK(read_file(s.config().target + "/which") == "old config");
}

// --- Issue 11, point 2: a journal is executed only if it is ours. ---

namespace {

// A journal as the tool would write it, for `s`, but with `edit` applied to
// its text, placed in the state directory by hand.
void plant_journal(const Setup& s, const std::string& text, const std::string& target) {
  make_dirs(s.state.path);
  REQUIRE(::chmod(s.state.path.c_str(), 0700) == 0);
  write_file(jb::journal_path(target), text, 0600);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("swap: a state directory others can write, or a symlink, is refused", "[swap][state_dir]") {
  Setup s;
  SECTION("group/other writable") {
    make_dirs(s.state.path);
    REQUIRE(::chmod(s.state.path.c_str(), 0777) == 0);
  }
  SECTION("a symlink to a private directory") {
    make_dirs(s.state.tmp / "real");
    REQUIRE(::chmod((s.state.tmp / "real").c_str(), 0700) == 0);
    REQUIRE(::symlink((s.state.tmp / "real").c_str(), s.state.path.c_str()) == 0);
  }
  SECTION("owned by another user") {
    if (::geteuid() != 0) return;  // needs root
    make_dirs(s.state.path);
    REQUIRE(::chmod(s.state.path.c_str(), 0700) == 0);
    REQUIRE(::chown(s.state.path.c_str(), 65534, 65534) == 0);
  }
  CHECK(kind_of([&] { jb::write_journal(s.plan); }) == jb::ErrorKind::kRefused);
  CHECK(kind_of([&] { jb::read_journal(s.data().target); }) == jb::ErrorKind::kRefused);
  CHECK(kind_of([&] { jb::check_no_pending_restore({s.data().target}); }) == jb::ErrorKind::kRefused);
  CHECK(read_file(s.data().target + "/which") == "old data");
}

TEST_CASE("swap: a journal not ours is reported and never executed", "[swap]") {
  Setup s;
  const std::string text = jb::journal_text(s.plan);
  plant_journal(s, text, s.data().target);
  const std::string journal = jb::journal_path(s.data().target);
  SECTION("writable by others") { REQUIRE(::chmod(journal.c_str(), 0666) == 0); }
  SECTION("owned by another user") {
    if (::geteuid() != 0) return;  // needs root
    REQUIRE(::chown(journal.c_str(), 65534, 65534) == 0);
  }
  SECTION("a symlink to a good journal") {
    REQUIRE(::rename(journal.c_str(), (s.state.tmp / "elsewhere").c_str()) == 0);
    REQUIRE(::symlink((s.state.tmp / "elsewhere").c_str(), journal.c_str()) == 0);
  }
  SECTION("a FIFO (must not hang)") {
    REQUIRE(::unlink(journal.c_str()) == 0);
    REQUIRE(::mkfifo(journal.c_str(), 0600) == 0);
  }
  CHECK(kind_of([&] { jb::read_journal(s.data().target); }) == jb::ErrorKind::kRefused);
  CHECK(read_file(s.data().target + "/which") == "old data");
  CHECK(exists_no_follow(s.data().staging()));
}

TEST_CASE("swap: a journal's names are validated, never taken as paths", "[swap]") {
  Setup s;
  const std::string good = jb::journal_text(s.plan);
  std::string bad;
  SECTION("staging_id with a path") {
    bad = replaced(good, "\"staging_id\": \"" + s.data().staging_id + "\"",
                   "\"staging_id\": \"1/../../../etc\"");
  }
  SECTION("backup_id with a path") {
    bad = replaced(good, "\"backup_id\": \"20260101T000000Z\"", "\"backup_id\": \"x/../../etc\"");
  }
  SECTION("a relative target") { bad = replaced(good, "\"target\": \"" + s.data().target, "\"target\": \"tmp/data"); }
  SECTION("a target with ..") {
    bad = replaced(good, "\"target\": \"" + s.data().target, "\"target\": \"" + s.tmp.path() + "/../etc");
  }
  SECTION("a tree named otherwise") { bad = replaced(good, "\"name\": \"data\"", "\"name\": \"etc\""); }
  SECTION("a tree twice") { bad = replaced(good, "\"name\": \"data\"", "\"name\": \"config\""); }
  SECTION("an inode that is not a number") { bad = replaced(good, "\"staged_ino\": ", "\"staged_ino\": -"); }
  SECTION("version 1 (staging and backup as paths)") { bad = replaced(good, "\"version\": 2", "\"version\": 1"); }
  plant_journal(s, bad, s.data().target);
  CHECK(kind_of([&] { jb::read_journal(s.data().target); }) == jb::ErrorKind::kDamaged);
}

TEST_CASE("swap: a journal filed under one target that names others is invalid", "[swap]") {
  Setup s;
  // Filed as the journal of an unrelated directory: it must not be executed
  // for it.
  plant_journal(s, jb::journal_text(s.plan), s.tmp / "unrelated");
  CHECK(kind_of([&] { jb::read_journal(s.tmp / "unrelated"); }) == jb::ErrorKind::kDamaged);
}

TEST_CASE("swap: discard_old that cannot remove the old tree still completes, with a warning",
          "[swap]") {
  // Part of the old tree cannot be removed (its owner made it so; here an
  // empty read-only mount, EBUSY): the journal is gone anyway, nothing blocks
  // create, and the warning names what is left to remove by hand.
  Setup s(/*targets_exist=*/true, /*discard_old=*/true);
  jb::write_journal(s.plan);
  const std::string mnt = s.data().target + "/sub";
  if (::geteuid() != 0 || ::mount("none", mnt.c_str(), "tmpfs", MS_RDONLY, "size=64k") != 0) {
    WARN("needs root (a mount stands in for an unremovable entry)");
    return;
  }
  RecordingReporter reporter;
  SwapOutcome outcome = jb::complete_swap(s.plan, reporter);
  ::umount2((s.data().backup() + "/sub").c_str(), MNT_DETACH);
  CHECK(outcome == SwapOutcome::kCompleted);
  check_new_in_place(s.data());
  CHECK_NOTHROW(jb::check_no_pending_restore({s.config().target, s.data().target}));
  REQUIRE(reporter.warnings.size() == 1);
  CHECK(reporter.warnings[0].find(s.data().backup()) != std::string::npos);
}

TEST_CASE("swap: a backup name taken during the swap leaves the old tree at the staging name, "
          "with a warning, and nothing pending", "[swap]") {
  Setup s;
  jb::write_journal(s.plan);
  write_file(s.data().backup(), "someone else's");
  RecordingReporter reporter;
  CHECK(jb::complete_swap(s.plan, reporter) == SwapOutcome::kCompleted);
  CHECK(read_file(s.data().target + "/which") == "new data");
  CHECK(read_file(s.data().staging() + "/which") == "old data");
  CHECK(read_file(s.data().backup()) == "someone else's");
  REQUIRE(reporter.warnings.size() == 1);
  CHECK(reporter.warnings[0].find(s.data().staging()) != std::string::npos);
  CHECK_NOTHROW(jb::check_no_pending_restore({s.config().target, s.data().target}));
}
