#include "jellyfin_backup/restore/restore.h"

#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "jellyfin_backup/create/create.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/remove_tree.h"
#include "jellyfin_backup/restore/staging_dir.h"
#include "jellyfin_backup/restore/swap.h"
#include "test_util.h"

using jb::test::error_of;

using jb::RecoverResult;
using jb::RestoreOptions;
using jb::RestoreResult;
using jb::test::archive_bytes_of;
using jb::test::make_dirs;
using jb::test::make_sample_trees;
using jb::test::read_file;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

// The sample trees and their archive, made once for the whole file.
struct Sample {
  TempDir dir;  // dir/config, dir/data
  std::string bytes;
};

const Sample& sample() {
  static const std::unique_ptr<Sample> s = [] {
    auto made = std::make_unique<Sample>();
    make_sample_trees(made->dir.path());
    made->bytes = archive_bytes_of(made->dir.path());
    return made;
  }();
  return *s;
}

// One line per entry below `root` (and root itself as "."), lstat-described.
std::vector<std::string> describe_tree(const std::string& root) {
  std::vector<std::string> out;
  auto describe = [&](const std::string& rel, const std::string& path) {
    struct stat st;
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    std::ostringstream line;
    line << rel << " mode=" << std::oct << st.st_mode << std::dec << " uid=" << st.st_uid
         << " gid=" << st.st_gid << " mtime=" << st.st_mtim.tv_sec << "." << std::setw(9) << std::setfill('0')
         << st.st_mtim.tv_nsec;
    if (S_ISREG(st.st_mode)) {
      line << " size=" << st.st_size << " nlink=" << st.st_nlink
           << " content=" << std::hash<std::string>{}(read_file(path));
    } else if (S_ISLNK(st.st_mode)) {
      line << " -> " << std::filesystem::read_symlink(path).string();
    }
    out.push_back(line.str());
  };
  describe(".", root);
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    const std::string path = e.path().string();
    describe(path.substr(root.size() + 1), path);
  }
  std::sort(out.begin(), out.end());
  return out;
}

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

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A place to restore into: tmp/config and tmp/data holding an older setup,
// and the archive as tmp/archive.tar.zst.
struct Setup {
  jb::test::PrivateStateDir state;  // journals of this case only
  TempDir tmp;
  std::string config = tmp / "config";
  std::string data = tmp / "data";
  std::string archive = tmp / "archive.tar.zst";

  explicit Setup(const std::string& bytes = sample().bytes, bool targets_exist = true) {
    write_file(archive, bytes);
    if (targets_exist) {
      make_dirs(config + "/old");
      write_file(config + "/system.xml", "<old/>");
      write_file(config + "/old/only-old.xml", "old");
      make_dirs(data + "/data");
      write_file(data + "/data/jellyfin.db", "old database");
    }
  }

  RestoreOptions options() const {
    RestoreOptions o;
    o.archive = archive;
    o.config_dir = config;
    o.data_dir = data;
    return o;
  }
};

// An archive of the sample trees that names a Jellyfin version.
std::string archive_with_version(const std::string& version) {
  TempDir out;
  jb::CreateOptions options;
  options.config_dir = sample().dir / "config";
  options.data_dir = sample().dir / "data";
  options.output = out / "v.tar.zst";
  options.server_version = version;
  options.threads = 1;
  jb::Reporter silent;
  jb::create_archive(options, silent);
  return read_file(options.output);
}

// An archive of the trees `config` and `data`, wherever they are.
std::string archive_of(const std::string& config, const std::string& data) {
  TempDir out;
  jb::CreateOptions options;
  options.config_dir = config;
  options.data_dir = data;
  options.output = out / "a.tar.zst";
  options.threads = 1;
  jb::Reporter silent;
  jb::create_archive(options, silent);
  return read_file(options.output);
}

// The sample trees with config moved inside data, as the official Docker
// image has them: dir/data, dir/data/config. And their archive.
struct NestedSample {
  TempDir dir;
  std::string data = dir / "data";
  std::string config = dir / "data/config";
  std::string bytes;
  NestedSample() {
    make_sample_trees(dir.path());
    std::filesystem::rename(dir / "config", config);
    bytes = archive_of(config, data);
  }
};

// describe_tree's lines without those of `sub` and below it.
std::vector<std::string> without(const std::vector<std::string>& lines, const std::string& sub) {
  std::vector<std::string> out;
  for (const auto& l : lines)
    if (l.rfind(sub + " ", 0) != 0 && l.rfind(sub + "/", 0) != 0) out.push_back(l);
  return out;
}

// An older nested setup to restore over: data/data/jellyfin.db and
// data/config/system.xml.
void make_old_nested(const std::string& data) {
  make_dirs(data + "/data");
  write_file(data + "/data/jellyfin.db", "old database");
  make_dirs(data + "/config/old");
  write_file(data + "/config/system.xml", "<old/>");
}

bool any_contains(const std::vector<std::string>& messages, const std::string& text) {
  return std::any_of(messages.begin(), messages.end(),
                     [&](const std::string& m) { return m.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("restore: into existing targets, the old trees kept", "[restore]") {
  Setup s;
  const auto old_config = describe_tree(s.config);
  const auto old_data = describe_tree(s.data);
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(s.options(), reporter);

  CHECK_FALSE(r.dry_run);
  CHECK(r.warnings.empty());
  CHECK(reporter.warnings.empty());
  CHECK(r.manifest.trees.size() == 2);
  CHECK(describe_tree(s.config) == describe_tree(sample().dir / "config"));
  CHECK(describe_tree(s.data) == describe_tree(sample().dir / "data"));
  // The hardlink came back as a hardlink.
  struct stat a, b;
  REQUIRE(::lstat((s.data + "/data/device.txt").c_str(), &a) == 0);
  REQUIRE(::lstat((s.data + "/metadata/device-hardlink").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);

  REQUIRE(r.trees.size() == 2);
  for (const auto& t : r.trees) {
    INFO(t.name);
    CHECK(t.target_existed);
    REQUIRE(t.backup);
    CHECK(starts_with(*t.backup, t.target + ".bak-"));
    CHECK_FALSE(t.diff);
  }
  CHECK(r.trees[0].name == "config");
  CHECK(r.trees[0].target == s.config);
  CHECK(r.trees[0].files == 2);
  CHECK(r.trees[1].name == "data");
  CHECK(r.trees[1].target == s.data);
  CHECK(r.trees[1].files == 4);
  CHECK(describe_tree(*r.trees[0].backup) == old_config);
  CHECK(describe_tree(*r.trees[1].backup) == old_data);

  // Beside the targets: the targets, their backups, the archive. No staging
  // directory, no journal.
  CHECK(list_dir(s.tmp.path()) ==
        std::vector<std::string>{"archive.tar.zst", "config", jb::name_of(*r.trees[0].backup),
                                 "data", jb::name_of(*r.trees[1].backup)});
}

TEST_CASE("restore: discard_old keeps no backup", "[restore]") {
  Setup s;
  RestoreOptions o = s.options();
  o.discard_old = true;
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(o, reporter);
  for (const auto& t : r.trees) CHECK_FALSE(t.backup);
  CHECK(describe_tree(s.data) == describe_tree(sample().dir / "data"));
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "config", "data"});
}

TEST_CASE("restore: targets that do not exist yet", "[restore]") {
  Setup s(sample().bytes, /*targets_exist=*/false);
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(s.options(), reporter);
  for (const auto& t : r.trees) {
    CHECK_FALSE(t.target_existed);
    CHECK_FALSE(t.backup);
  }
  CHECK(describe_tree(s.config) == describe_tree(sample().dir / "config"));
  CHECK(describe_tree(s.data) == describe_tree(sample().dir / "data"));
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "config", "data"});
}

TEST_CASE("restore: dry_run changes nothing and reports the differences", "[restore]") {
  Setup s;
  const auto before_config = describe_tree(s.config);
  const auto before_data = describe_tree(s.data);
  RestoreOptions o = s.options();
  o.dry_run = true;
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(o, reporter);

  CHECK(r.dry_run);
  CHECK(describe_tree(s.config) == before_config);
  CHECK(describe_tree(s.data) == before_data);
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "config", "data"});

  REQUIRE(r.trees.size() == 2);
  for (const auto& t : r.trees) {
    CHECK(t.target_existed);
    CHECK_FALSE(t.backup);
  }
  REQUIRE(r.trees[0].diff);
  const jb::TreeDiff& config = *r.trees[0].diff;
  // Archive: system.xml, dlna, dlna/profile.xml; target: system.xml, old, old/only-old.xml.
  CHECK(config.added == 2);
  CHECK(config.removed == 2);
  CHECK(config.changed == 1);
  CHECK(config.unchanged == 0);
  CHECK(config.changed_paths == std::vector<std::string>{"system.xml"});
  CHECK(std::count(config.added_paths.begin(), config.added_paths.end(), "dlna/profile.xml") == 1);
  CHECK(std::count(config.removed_paths.begin(), config.removed_paths.end(), "old/only-old.xml") ==
        1);
  REQUIRE(r.trees[1].diff);
  const jb::TreeDiff& data = *r.trees[1].diff;
  // Target: data/ (same type and mode: unchanged) and data/jellyfin.db (changed).
  CHECK(data.removed == 0);
  CHECK(data.changed == 1);
  CHECK(data.changed_paths == std::vector<std::string>{"data/jellyfin.db"});
  CHECK(data.unchanged == 1);
  CHECK(data.added == 8);
}

TEST_CASE("restore: a dry run after a restore finds nothing to change", "[restore]") {
  Setup s;
  RecordingReporter reporter;
  jb::restore_archive(s.options(), reporter);
  RestoreOptions o = s.options();
  o.dry_run = true;
  RestoreResult r = jb::restore_archive(o, reporter);
  REQUIRE(r.trees.size() == 2);
  for (const auto& t : r.trees) {
    INFO(t.name);
    REQUIRE(t.diff);
    CHECK(t.diff->added == 0);
    CHECK(t.diff->removed == 0);
    CHECK(t.diff->changed == 0);
    CHECK(t.diff->unchanged > 0);
  }
}

TEST_CASE("restore: only the data tree", "[restore]") {
  Setup s;
  const auto before_config = describe_tree(s.config);
  RestoreOptions o = s.options();
  o.only = "data";
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(o, reporter);
  REQUIRE(r.trees.size() == 1);
  CHECK(r.trees[0].name == "data");
  CHECK(describe_tree(s.data) == describe_tree(sample().dir / "data"));
  CHECK(describe_tree(s.config) == before_config);
  REQUIRE(r.trees[0].backup);
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "config", "data",
                                                           jb::name_of(*r.trees[0].backup)});
}

TEST_CASE("restore: only the config tree", "[restore]") {
  Setup s;
  const auto before_data = describe_tree(s.data);
  RestoreOptions o = s.options();
  o.only = "config";
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(o, reporter);
  REQUIRE(r.trees.size() == 1);
  CHECK(r.trees[0].name == "config");
  CHECK(describe_tree(s.config) == describe_tree(sample().dir / "config"));
  CHECK(describe_tree(s.data) == before_data);
}

TEST_CASE("restore: a damaged archive leaves the targets untouched", "[restore]") {
  std::string bytes = sample().bytes;
  SECTION("a flipped byte in the middle") { bytes[bytes.size() / 2] ^= 0x20; }
  // The last 4 bytes are the last frame's content checksum: a flip there always
  // counts (a flip inside compressed data may land on a bit zstd ignores).
  SECTION("a flipped byte in the last frame's checksum") { bytes[bytes.size() - 2] ^= 0x01; }
  SECTION("truncated") { bytes.resize(bytes.size() * 3 / 4); }
  Setup s(bytes);
  const auto before_config = describe_tree(s.config);
  const auto before_data = describe_tree(s.data);
  RecordingReporter reporter;
  auto e = error_of([&] { jb::restore_archive(s.options(), reporter); });
  INFO(e.full_message());
  CHECK(e.kind() == jb::ErrorKind::kDamaged);
  CHECK(describe_tree(s.config) == before_config);
  CHECK(describe_tree(s.data) == before_data);
  // No staging directory, journal or backup left beside the targets.
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "config", "data"});
}

TEST_CASE("restore: refused while an interrupted restore is pending", "[restore]") {
  Setup s;
  const auto before_config = describe_tree(s.config);
  make_dirs(s.state.path);
  REQUIRE(::chmod(s.state.path.c_str(), 0700) == 0);
  write_file(jb::journal_path(s.data), "{}");
  RecordingReporter reporter;
  CHECK(error_of([&] { jb::restore_archive(s.options(), reporter); }).kind() ==
        jb::ErrorKind::kRefused);
  CHECK(describe_tree(s.config) == before_config);
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "config", "data"});
}

// Nested targets are allowed (see the cases below); one directory for both is not.
TEST_CASE("restore: the same target for both trees is a usage error", "[restore]") {
  Setup s;
  const auto before_data = describe_tree(s.data);
  RestoreOptions o = s.options();
  o.config_dir = s.data + "/";
  RecordingReporter reporter;
  CHECK(error_of([&] { jb::restore_archive(o, reporter); }).kind() == jb::ErrorKind::kUsage);
  CHECK(describe_tree(s.data) == before_data);
}

TEST_CASE("restore: nested trees into nested targets", "[restore]") {
  const NestedSample src;
  Setup s(src.bytes, /*targets_exist=*/false);
  make_old_nested(s.data);
  const auto old_data = describe_tree(s.data);
  RestoreOptions o = s.options();
  o.config_dir = s.data + "/config";
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(o, reporter);
  CHECK(r.warnings.empty());

  // Both trees as they were on the source, config in its place in data.
  CHECK(describe_tree(s.data) == describe_tree(src.data));
  CHECK(describe_tree(s.data + "/config") == describe_tree(src.config));

  REQUIRE(r.trees.size() == 2);
  const jb::RestoredTree& config = r.trees[0];
  const jb::RestoredTree& data = r.trees[1];
  CHECK(config.name == "config");
  CHECK(config.target == s.data + "/config");
  CHECK(config.inside == std::optional<std::string>("data"));
  CHECK(config.target_existed);
  CHECK(config.files == 2);
  CHECK(data.name == "data");
  CHECK(data.target == s.data);
  CHECK_FALSE(data.inside);
  CHECK(data.target_existed);
  CHECK(data.files == 4);
  // One backup, of the outer tree, with the old config inside it.
  REQUIRE(data.backup);
  CHECK(starts_with(*data.backup, s.data + ".bak-"));
  CHECK(describe_tree(*data.backup) == old_data);
  REQUIRE(config.backup);
  CHECK(*config.backup == *data.backup + "/config");
  CHECK(read_file(*config.backup + "/system.xml") == "<old/>");

  // No staging directory, journal or second backup anywhere.
  CHECK(list_dir(s.tmp.path()) ==
        std::vector<std::string>{"archive.tar.zst", "data", jb::name_of(*data.backup)});
}

TEST_CASE("restore: nested trees into nested targets that do not exist yet", "[restore]") {
  const NestedSample src;
  Setup s(src.bytes, /*targets_exist=*/false);
  RestoreOptions o = s.options();
  o.config_dir = s.data + "/config";
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(o, reporter);
  CHECK(describe_tree(s.data) == describe_tree(src.data));
  for (const auto& t : r.trees) {
    INFO(t.name);
    CHECK_FALSE(t.target_existed);
    CHECK_FALSE(t.backup);
  }
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "data"});
}

TEST_CASE("restore: nested trees into nested targets, a dry run", "[restore]") {
  const NestedSample src;
  Setup s(src.bytes, /*targets_exist=*/false);
  make_old_nested(s.data);
  const auto before = describe_tree(s.data);
  RestoreOptions o = s.options();
  o.config_dir = s.data + "/config";
  o.dry_run = true;
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(o, reporter);
  CHECK(describe_tree(s.data) == before);
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "data"});
  REQUIRE(r.trees.size() == 2);
  REQUIRE(r.trees[0].diff);
  REQUIRE(r.trees[1].diff);
  // Each tree's differences are its own: data's say nothing of config's files.
  CHECK(std::count(r.trees[0].diff->changed_paths.begin(), r.trees[0].diff->changed_paths.end(),
                   "system.xml") == 1);
  for (const auto& paths : {r.trees[1].diff->added_paths, r.trees[1].diff->removed_paths,
                            r.trees[1].diff->changed_paths}) {
    for (const auto& p : paths) {
      INFO(p);
      CHECK_FALSE(starts_with(p, "config"));
    }
  }
}

TEST_CASE("restore: nested trees into separate targets", "[restore]") {
  const NestedSample src;
  Setup s(src.bytes);
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(s.options(), reporter);
  CHECK(r.warnings.empty());
  CHECK(describe_tree(s.config) == describe_tree(src.config));
  // The data tree without the config tree that lay inside it.
  CHECK(describe_tree(s.data) == without(describe_tree(src.data), "config"));
  CHECK_FALSE(exists_no_follow(s.data + "/config"));
  REQUIRE(r.trees.size() == 2);
  CHECK_FALSE(r.trees[0].inside);
  CHECK_FALSE(r.trees[1].inside);
  REQUIRE(r.trees[0].backup);
  REQUIRE(r.trees[1].backup);
  CHECK(list_dir(s.tmp.path()) ==
        std::vector<std::string>{"archive.tar.zst", "config", jb::name_of(*r.trees[0].backup), "data",
                                 jb::name_of(*r.trees[1].backup)});
}

TEST_CASE("restore: separate trees into nested targets", "[restore]") {
  Setup s(sample().bytes, /*targets_exist=*/false);
  make_old_nested(s.data);
  RestoreOptions o = s.options();
  o.config_dir = s.data + "/config";
  RecordingReporter reporter;
  RestoreResult r = jb::restore_archive(o, reporter);
  CHECK(describe_tree(s.data + "/config") == describe_tree(sample().dir / "config"));
  // The data tree gained a config directory the source's had not.
  CHECK(without(describe_tree(s.data), "config") == describe_tree(sample().dir / "data"));
  REQUIRE(r.trees.size() == 2);
  REQUIRE(r.trees[1].backup);
  CHECK(list_dir(s.tmp.path()) ==
        std::vector<std::string>{"archive.tar.zst", "data", jb::name_of(*r.trees[1].backup)});
}

TEST_CASE("restore: only one tree with nested targets", "[restore]") {
  Setup s(sample().bytes, /*targets_exist=*/false);
  make_old_nested(s.data);
  const auto before = describe_tree(s.data);
  RestoreOptions o = s.options();
  o.config_dir = s.data + "/config";
  RecordingReporter reporter;

  SECTION("only data would replace config too: a usage error") {
    o.only = "data";
    auto e = error_of([&] { jb::restore_archive(o, reporter); });
    CHECK(e.kind() == jb::ErrorKind::kUsage);
    CHECK_THAT(e.full_message(), Catch::Contains("--only"));
    CHECK(describe_tree(s.data) == before);
    CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "data"});
  }
  SECTION("only config replaces config alone") {
    o.only = "config";
    RestoreResult r = jb::restore_archive(o, reporter);
    REQUIRE(r.trees.size() == 1);
    CHECK(r.trees[0].name == "config");
    CHECK(describe_tree(s.data + "/config") == describe_tree(sample().dir / "config"));
    CHECK(read_file(s.data + "/data/jellyfin.db") == "old database");
    CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "data"});
  }
}

TEST_CASE("restore: an archive whose data tree has its own config dir, into nested targets",
          "[restore]") {
  TempDir src;
  make_sample_trees(src.path());
  SECTION("a directory with files") {
    make_dirs(src / "data/config");
    write_file(src / "data/config/stray.xml", "<stray/>");
  }
  SECTION("an empty directory") { make_dirs(src / "data/config"); }
  SECTION("a file") { write_file(src / "data/config", "not a directory"); }
  Setup s(archive_of(src / "config", src / "data"), /*targets_exist=*/false);
  make_old_nested(s.data);
  const auto before = describe_tree(s.data);
  RestoreOptions o = s.options();
  o.config_dir = s.data + "/config";
  RecordingReporter reporter;
  auto e = error_of([&] { jb::restore_archive(o, reporter); });
  INFO(e.full_message());
  CHECK(e.kind() == jb::ErrorKind::kRefused);
  CHECK_THAT(e.full_message(), Catch::Contains("config"));
  CHECK(describe_tree(s.data) == before);
  CHECK(list_dir(s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "data"});
}

TEST_CASE("restore: the version guard", "[restore]") {
  const std::string bytes = archive_with_version("10.11.0");
  Setup s(bytes);
  const auto before_config = describe_tree(s.config);
  const auto before_data = describe_tree(s.data);
  RestoreOptions o = s.options();
  RecordingReporter reporter;

  SECTION("an archive from a newer Jellyfin is refused") {
    o.server_version = "10.10.7";
    auto e = error_of([&] { jb::restore_archive(o, reporter); });
    CHECK(e.kind() == jb::ErrorKind::kRefused);
    CHECK_THAT(e.full_message(), Catch::Contains("10.11.0") && Catch::Contains("10.10.7"));
    CHECK(describe_tree(s.config) == before_config);
    CHECK(describe_tree(s.data) == before_data);
    CHECK(list_dir(s.tmp.path()) ==
          std::vector<std::string>{"archive.tar.zst", "config", "data"});
  }
  SECTION("force overrides it, with a warning") {
    o.server_version = "10.10.7";
    o.force = true;
    RestoreResult r = jb::restore_archive(o, reporter);
    CHECK(describe_tree(s.data) == describe_tree(sample().dir / "data"));
    CHECK(any_contains(reporter.warnings, "10.10.7"));
    CHECK(r.warnings == reporter.warnings);
  }
  SECTION("an archive from an older Jellyfin is restored, with a warning") {
    o.server_version = "10.11.8+deb12";
    RestoreResult r = jb::restore_archive(o, reporter);
    CHECK(describe_tree(s.data) == describe_tree(sample().dir / "data"));
    REQUIRE(reporter.warnings.size() == 1);
    CHECK_THAT(reporter.warnings[0], Catch::Contains("older") && Catch::Contains("10.11.8"));
    CHECK(r.warnings == reporter.warnings);
  }
  SECTION("the same version, written differently, is silent") {
    o.server_version = "10.11.0.0";
    jb::restore_archive(o, reporter);
    CHECK(reporter.warnings.empty());
  }
  SECTION("no installed version given: no guard") {
    jb::restore_archive(o, reporter);
    CHECK(reporter.warnings.empty());
  }
  SECTION("an installed version that does not parse: no guard") {
    o.server_version = "unknown";
    jb::restore_archive(o, reporter);
    CHECK(reporter.warnings.empty());
  }
}

TEST_CASE("restore: an archive without a version is not guarded", "[restore]") {
  Setup s;
  RestoreOptions o = s.options();
  o.server_version = "1.0.0";
  RecordingReporter reporter;
  jb::restore_archive(o, reporter);
  CHECK(reporter.warnings.empty());
  CHECK(describe_tree(s.data) == describe_tree(sample().dir / "data"));
}

TEST_CASE("recover: nothing pending removes dead restores' staging leftovers", "[recover]") {
  TempDir tmp;
  make_dirs(tmp / "config");
  make_dirs(tmp / "data");
  // A restore that died: a pid no process can have.
  const std::string dead = jb::StagingDir::prefix_for(tmp / "data") + "2147483000";
  make_dirs(dead + "/ro/inner");
  write_file(dead + "/ro/inner/file", "partial");
  REQUIRE(::chmod((dead + "/ro").c_str(), 0555) == 0);
  // A restore running now (a child of ours stands in for it) is left alone.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const std::string running = jb::StagingDir::prefix_for(tmp / "config") + std::to_string(child);
  make_dirs(running);
  write_file(tmp / "unrelated", "x");

  RecordingReporter reporter;
  RecoverResult r{RecoverResult::Outcome::kNothingPending, {}, {}};
  try {
    r = jb::recover(tmp / "data", tmp / "config", reporter);
  } catch (...) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    throw;
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(r.outcome == RecoverResult::Outcome::kNothingPending);
  CHECK(r.removed_staging == std::vector<std::string>{dead});
  CHECK_FALSE(exists_no_follow(dead));
  CHECK(exists_no_follow(running));
  CHECK(list_dir(tmp.path()) ==
        std::vector<std::string>{jb::name_of(running), "config", "data", "unrelated"});
}

TEST_CASE("recover: a restore running as another user is alive too",
          "[recover]") {
  // kill(pid, 0) fails with EPERM for a live process of another user: that
  // process exists, and its staging directory is not a leftover.
  TempDir tmp;
  const std::string work = jb::test::unprivileged_work_dir(tmp);
  // Root's test process itself, seen from the unprivileged child; pid 1
  // when the test already runs unprivileged.
  const pid_t other_users = ::geteuid() == 0 ? ::getpid() : 1;
  const std::string running =
      jb::StagingDir::prefix_for(work + "/data") + std::to_string(other_users);
  auto result = jb::test::run_unprivileged([&]() -> std::string {
    ::setenv("JELLYFIN_BACKUP_STATE_DIR", (work + "/state").c_str(), 1);  // the user's own
    make_dirs(running);
    jb::Reporter silent;
    RecoverResult r = jb::recover(work + "/data", work + "/config", silent);
    return std::to_string(r.removed_staging.size());
  });
  INFO(result.text);
  REQUIRE(result.ok);
  CHECK(result.text == "0");
  CHECK(exists_no_follow(running));
}

TEST_CASE("recover: nothing at all to do", "[recover]") {
  Setup s;
  const auto before_config = describe_tree(s.config);
  RecordingReporter reporter;
  RecoverResult r = jb::recover(s.data, s.config, reporter);
  CHECK(r.outcome == RecoverResult::Outcome::kNothingPending);
  CHECK(r.removed_staging.empty());
  CHECK(describe_tree(s.config) == before_config);
}

namespace {

// The state a restore leaves when it dies during its swap: the journal
// written, config exchanged, data not yet.
struct Interrupted {
  Setup s;
  jb::SwapPlan plan;

  Interrupted() {
    plan.archive = s.archive;
    plan.archive_created = "2026-01-01T00:00:00Z";
    for (const auto& [name, target] : {std::pair{"config", s.config}, std::pair{"data", s.data}}) {
      jb::StagingDir staging = jb::StagingDir::create(target);
      staging.release();
      write_file(staging.path() + "/which", std::string("new ") + name);
      struct stat st;
      REQUIRE(::lstat(staging.path().c_str(), &st) == 0);
      plan.trees.push_back({name, target, staging.id(), "20260101T000000Z", true, st.st_dev, st.st_ino});
    }
    jb::write_journal(plan);
    REQUIRE(::renameat2(AT_FDCWD, plan.trees[0].staging().c_str(), AT_FDCWD,
                        plan.trees[0].target.c_str(), RENAME_EXCHANGE) == 0);
  }
};

}  // namespace

TEST_CASE("recover: a restore interrupted during its swap is completed", "[recover]") {
  Interrupted i;
  SECTION("both journals there") {}
  SECTION("only config's journal left") {
    REQUIRE(::unlink(jb::journal_path(i.s.data).c_str()) == 0);
  }
  RecordingReporter reporter;
  RecoverResult r = jb::recover(i.s.data, i.s.config, reporter);
  CHECK(r.outcome == RecoverResult::Outcome::kCompleted);
  CHECK(r.archive == i.s.archive);
  CHECK(read_file(i.s.config + "/which") == "new config");
  CHECK(read_file(i.s.data + "/which") == "new data");
  CHECK(read_file(i.s.config + ".bak-20260101T000000Z/system.xml") == "<old/>");
  CHECK(read_file(i.s.data + ".bak-20260101T000000Z/data/jellyfin.db") == "old database");
  CHECK(list_dir(i.s.tmp.path()) ==
        std::vector<std::string>{"archive.tar.zst", "config", "config.bak-20260101T000000Z", "data",
                                 "data.bak-20260101T000000Z"});
  // And a restore may run again.
  CHECK_NOTHROW(jb::check_no_pending_restore({i.s.config, i.s.data}));
}

TEST_CASE("recover: an interrupted restore missing a staged tree is rolled back", "[recover]") {
  Interrupted i;
  const auto old_config = describe_tree(i.plan.trees[0].staging());  // swapped out
  jb::remove_tree(i.plan.trees[1].staging());
  RecordingReporter reporter;
  RecoverResult r = jb::recover(i.s.data, i.s.config, reporter);
  CHECK(r.outcome == RecoverResult::Outcome::kRolledBack);
  CHECK(describe_tree(i.s.config) == old_config);
  CHECK(read_file(i.s.data + "/data/jellyfin.db") == "old database");
  CHECK(list_dir(i.s.tmp.path()) == std::vector<std::string>{"archive.tar.zst", "config", "data"});
}

TEST_CASE("recover: a journal for other trees than the ones given is refused, nothing moves",
          "[recover]") {
  // A valid journal of ours whose config tree is somewhere else than the
  // --config given: recover must not act on a tree it was not given.
  Interrupted i;
  const std::string other = i.s.tmp / "other-config";
  make_dirs(other);
  RecordingReporter reporter;
  auto e = error_of([&] { jb::recover(i.s.data, other, reporter); });
  CHECK(e.kind() == jb::ErrorKind::kRefused);
  CHECK(read_file(i.s.config + "/which") == "new config");  // as the crash left it
  CHECK(read_file(i.s.data + "/data/jellyfin.db") == "old database");
  // With the right trees, it completes.
  CHECK(jb::recover(i.s.data, i.s.config, reporter).outcome == RecoverResult::Outcome::kCompleted);
}

TEST_CASE("recover: an unreadable journal is damage, and nothing moves", "[recover]") {
  Setup s;
  const auto before_config = describe_tree(s.config);
  make_dirs(s.state.path);
  REQUIRE(::chmod(s.state.path.c_str(), 0700) == 0);
  write_file(jb::journal_path(s.config), "garbage");
  RecordingReporter reporter;
  CHECK(error_of([&] { jb::recover(s.data, s.config, reporter); }).kind() ==
        jb::ErrorKind::kDamaged);
  CHECK(describe_tree(s.config) == before_config);
}

namespace {

// Trees with read-only directories and a setuid file, their archive readable
// by everyone, and a directory the unprivileged user owns to restore into.
struct Unprivileged {
  TempDir tmp;
  std::string archive = tmp / "archive.tar.zst";
  std::string work = tmp / "work";
  std::string state_parent = tmp / "state";  // the unprivileged user's, beside work

  Unprivileged() {
    REQUIRE(::chmod(tmp.path().c_str(), 0755) == 0);
    TempDir src;
    make_dirs(src / "config");
    write_file(src / "config/system.xml", "<ServerConfiguration/>");
    make_dirs(src / "data/ro/inner");
    write_file(src / "data/ro/inner/deep.txt", "deep", 0400);
    write_file(src / "data/ro/file.txt", "file", 0444);
    write_file(src / "data/suid", "s", 04755);
    REQUIRE(::chmod((src / "data/ro/inner").c_str(), 0500) == 0);
    REQUIRE(::chmod((src / "data/ro").c_str(), 0555) == 0);
    write_file(archive, archive_bytes_of(src.path()));
    make_dirs(work);
    make_dirs(state_parent);
    if (::geteuid() == 0) {
      REQUIRE(::chown(work.c_str(), jb::test::kUnprivilegedId, jb::test::kUnprivilegedId) == 0);
      REQUIRE(::chown(state_parent.c_str(), jb::test::kUnprivilegedId, jb::test::kUnprivilegedId) == 0);
    }
    // Journals in a state directory of the user restoring.
    ::setenv("JELLYFIN_BACKUP_STATE_DIR", (state_parent + "/journals").c_str(), 1);
  }

  RestoreOptions options() const {
    RestoreOptions o;
    o.archive = archive;
    o.config_dir = work + "/config";
    o.data_dir = work + "/data";
    o.allow_special = true;  // data/suid: restored, its bits dropped
    return o;
  }
};

mode_t mode_of(const std::string& path) {
  struct stat st;
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("restore: unprivileged, read-only directories and a second restore over them",
          "[restore]") {
  Unprivileged u;
  auto result = jb::test::run_unprivileged([&]() -> std::string {
    jb::Reporter silent;
    // Into nothing; then over the first, which is moved aside, read-only
    // directories and all; then over that, discarding the old tree; then a
    // dry run, whose staged tree is removed again.
    jb::restore_archive(u.options(), silent);
    RestoreResult r = jb::restore_archive(u.options(), silent);
    if (!r.trees[1].backup) throw std::runtime_error("no backup of the data tree");
    RestoreOptions discard = u.options();
    discard.discard_old = true;
    jb::restore_archive(discard, silent);
    RestoreOptions dry = u.options();
    dry.dry_run = true;
    jb::restore_archive(dry, silent);
    return *r.trees[1].backup;
  });
  INFO(result.text);
  REQUIRE(result.ok);
  CHECK(mode_of(u.work + "/data/ro") == 0555);
  CHECK(mode_of(u.work + "/data/ro/inner") == 0500);
  CHECK(read_file(u.work + "/data/ro/inner/deep.txt") == "deep");
  CHECK(read_file(u.work + "/data/ro/file.txt") == "file");
  CHECK(mode_of(u.work + "/data/suid") == 0755);  // setuid dropped
  CHECK(mode_of(result.text + "/ro") == 0555);     // the kept backup
  CHECK(read_file(result.text + "/ro/inner/deep.txt") == "deep");
  REQUIRE(list_dir(u.work).size() == 4);
  CHECK(list_dir(u.work)[0] == "config");
  CHECK(starts_with(list_dir(u.work)[1], "config.bak-"));
  CHECK(list_dir(u.work)[2] == "data");
  CHECK(u.work + "/" + list_dir(u.work)[3] == result.text);
}

TEST_CASE("restore: unprivileged, discard_old of an old tree with an unreadable directory",
          "[restore]") {
  Unprivileged u;
  auto result = jb::test::run_unprivileged([&]() -> std::string {
    make_dirs(u.work + "/data/locked/inner");
    if (::chmod((u.work + "/data/locked").c_str(), 0000) != 0)
      throw std::runtime_error("chmod failed");
    RestoreOptions o = u.options();
    o.discard_old = true;
    jb::Reporter silent;
    jb::restore_archive(o, silent);
    return {};
  });
  INFO(result.text);
  CHECK(result.ok);
  // Whatever happened, no restore may be left pending for ever.
  CHECK_FALSE(exists_no_follow(jb::journal_path(u.work + "/data")));
}

TEST_CASE("restore: a backup name that is taken already", "[restore]") {
  // The old tree goes to "<target>.bak-<UTC second>": two restores within
  // one second (or a stale backup of that name) collide. The collision must
  // be found before the swap, or avoided; not after it.
  Setup s;
  const auto before_config = describe_tree(s.config);
  const std::time_t now = std::time(nullptr);
  for (std::time_t t = now - 1; t <= now + 30; ++t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    make_dirs(s.config + ".bak-" + stamp);
    write_file(s.config + ".bak-" + stamp + "/precious", "an earlier backup");
  }
  RecordingReporter reporter;
  try {
    RestoreResult r = jb::restore_archive(s.options(), reporter);
    REQUIRE(r.trees[0].backup);
    CHECK(read_file(*r.trees[0].backup + "/system.xml") == "<old/>");
  } catch (const jb::Error& e) {
    INFO(e.full_message());
    // Refusing is fine too, if nothing was touched.
    CHECK(describe_tree(s.config) == before_config);
    CHECK_FALSE(exists_no_follow(jb::journal_path(s.config)));
    CHECK_FALSE(exists_no_follow(jb::journal_path(s.data)));
    // And recover must not be stuck on it.
    CHECK_NOTHROW(jb::recover(s.data, s.config, reporter));
  }
}

TEST_CASE("restore: a setuid file is refused without allow_special, before anything is written",
          "[restore]") {
  Unprivileged u;  // its archive holds data/suid, mode 04755
  RestoreOptions o = u.options();
  o.allow_special = false;
  jb::Reporter silent;
  try {
    jb::restore_archive(o, silent);
    FAIL("restored");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kDamaged);
    CHECK_THAT(e.full_message(), Catch::Contains("data/suid") && Catch::Contains("setuid") &&
                                     Catch::Contains("--allow-special"));
  }
  CHECK(list_dir(u.work).empty());  // no staging directory, no target
}
