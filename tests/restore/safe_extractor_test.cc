#include "jellyfin_backup/restore/safe_extractor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/archive/libarchive_util.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/unique_fd.h"
#include "test_util.h"

using jb::DataBlock;
using jb::ExtractTarget;
using jb::SafeExtractor;
using jb::test::make_dirs;
using jb::test::read_file;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

constexpr time_t kSec = 1700000000;
constexpr long kNsec = 123456789;

// An archive_entry as TarReader would hand it over.
struct Entry {
  jb::ArchiveEntryPtr e{archive_entry_new()};

  Entry(const std::string& path, mode_t type, mode_t perm) {
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_mtime(e.get(), kSec, kNsec);
    archive_entry_set_uid(e.get(), ::geteuid());
    archive_entry_set_gid(e.get(), ::getegid());
  }
  Entry& size(std::int64_t s) {
    archive_entry_set_size(e.get(), s);
    return *this;
  }
  Entry& mtime(time_t sec, long nsec) {
    archive_entry_set_mtime(e.get(), sec, nsec);
    return *this;
  }
  Entry& symlink(const std::string& target) {
    archive_entry_set_symlink(e.get(), target.c_str());
    return *this;
  }
  Entry& hardlink(const std::string& target) {
    archive_entry_set_hardlink(e.get(), target.c_str());
    return *this;
  }
  Entry& xattr(const std::string& name, const std::string& value) {
    archive_entry_xattr_add_entry(e.get(), name.c_str(), value.data(), value.size());
    return *this;
  }
  archive_entry* get() const { return e.get(); }
};

Entry file(const std::string& path, std::int64_t size, mode_t perm = 0644) {
  Entry entry(path, AE_IFREG, perm);
  entry.size(size);
  return entry;
}
Entry dir(const std::string& path, mode_t perm = 0755) { return Entry(path, AE_IFDIR, perm); }

// Two staging directories, config and data, and an extractor writing into them.
struct Fixture {
  TempDir tmp;
  std::string config = tmp / "stage-config";
  std::string data = tmp / "stage-data";
  jb::UniqueFd config_fd, data_fd;
  RecordingReporter reporter;
  SafeExtractor ex;

  explicit Fixture(bool with_data = true) : ex(make_targets(with_data), reporter) {}

  std::vector<ExtractTarget> make_targets(bool with_data) {
    make_dirs(config);
    make_dirs(data);
    config_fd.reset(::open(config.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    data_fd.reset(::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(config_fd);
    REQUIRE(data_fd);
    std::vector<ExtractTarget> targets{{"config", config_fd.get(), config}};
    if (with_data) targets.push_back({"data", data_fd.get(), data});
    return targets;
  }

  // One entry with its data in blocks of `piece` bytes.
  void put(const Entry& entry, const std::string& content = {}, std::size_t piece = 4096) {
    ex.begin_entry(entry.get());
    for (std::size_t off = 0; off < content.size(); off += piece) {
      std::string_view bytes(content.data() + off, std::min(piece, content.size() - off));
      ex.data(DataBlock{off, bytes});
    }
    ex.end_entry();
  }
  void put_blocks(const Entry& entry, const std::vector<std::pair<std::uint64_t, std::string>>& blocks) {
    ex.begin_entry(entry.get());
    for (const auto& [off, bytes] : blocks) ex.data(DataBlock{off, bytes});
    ex.end_entry();
  }
};

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

bool exists_no_follow(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool empty_dir(const std::string& path) {
  return std::filesystem::is_empty(std::filesystem::path(path));
}

template <typename F>
jb::ErrorKind kind_of(F&& f) {
  try {
    f();
  } catch (const jb::Error& e) {
    INFO(e.full_message());
    return e.kind();
  }
  FAIL("no jb::Error thrown");
  return jb::ErrorKind::kRuntime;
}

}  // namespace

TEST_CASE("SafeExtractor: a regular file with its content, mode and mtime", "[safe_extractor]") {
  Fixture f;
  const std::string content = "<ServerConfiguration/>\n";
  f.put(file("config/system.xml", static_cast<std::int64_t>(content.size()), 0640), content);
  f.ex.finish();

  CHECK(read_file(f.config + "/system.xml") == content);
  struct stat st = lstat_of(f.config + "/system.xml");
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(st.st_size == static_cast<off_t>(content.size()));
  CHECK(st.st_mtim.tv_sec == kSec);
  CHECK(st.st_mtim.tv_nsec == kNsec);
  CHECK(f.ex.files() == 1);
  CHECK(f.ex.bytes() == content.size());
  CHECK(f.reporter.warnings.empty());
}

TEST_CASE("SafeExtractor: content in many blocks, and an empty file", "[safe_extractor]") {
  Fixture f;
  std::string content(100000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + 3);
  f.put(file("data/data/jellyfin.db", static_cast<std::int64_t>(content.size())), content, 333);
  f.put(file("data/empty", 0));
  f.ex.finish();
  CHECK(read_file(f.data + "/data/jellyfin.db") == content);
  CHECK(lstat_of(f.data + "/empty").st_size == 0);
  CHECK(f.ex.files() == 2);
  CHECK(f.ex.bytes() == content.size());
}

TEST_CASE("SafeExtractor: sparse files keep their holes and their size", "[safe_extractor]") {
  Fixture f;
  const std::uint64_t size = 4 << 20;  // a trailing hole of ~3 MiB
  f.put_blocks(file("data/sparse.img", static_cast<std::int64_t>(size)),
               {{0, "head"}, {1 << 20, "middle"}, {(1 << 20) + 65536, "more"}});
  f.ex.finish();

  const std::string got = read_file(f.data + "/sparse.img");
  REQUIRE(got.size() == size);
  std::string expected(size, '\0');
  expected.replace(0, 4, "head");
  expected.replace(1 << 20, 6, "middle");
  expected.replace((1 << 20) + 65536, 4, "more");
  CHECK(got == expected);
  struct stat st = lstat_of(f.data + "/sparse.img");
  CHECK(st.st_size == static_cast<off_t>(size));
  // The holes were not written (ext4, xfs, btrfs, tmpfs all keep them).
  CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < size / 2);
  CHECK(f.ex.bytes() == 14);
}

TEST_CASE("SafeExtractor: a file that is one hole", "[safe_extractor]") {
  Fixture f;
  f.put_blocks(file("data/hole", 123457), {});
  f.ex.finish();
  CHECK(read_file(f.data + "/hole") == std::string(123457, '\0'));
}

TEST_CASE("SafeExtractor: user xattrs are restored", "[safe_extractor]") {
  Fixture f;
  const std::string value("value with \0 nul\x01", 17);
  Entry e = file("config/tagged", 2);
  e.xattr("user.jellyfin", value);
  e.xattr("user.empty", "");
  f.put(e, "hi");
  f.ex.finish();
  if (!f.reporter.warnings.empty() &&
      f.reporter.warnings.front().find("not supported") != std::string::npos) {
    WARN("user xattrs are not supported here: " << f.reporter.warnings.front());
    return;
  }
  CHECK(f.reporter.warnings.empty());
  char buf[256];
  ssize_t n = ::lgetxattr((f.config + "/tagged").c_str(), "user.jellyfin", buf, sizeof buf);
  REQUIRE(n >= 0);
  CHECK(std::string(buf, static_cast<std::size_t>(n)) == value);
  n = ::lgetxattr((f.config + "/tagged").c_str(), "user.empty", buf, sizeof buf);
  CHECK(n == 0);
}

TEST_CASE("SafeExtractor: an xattr that cannot be set is a warning", "[safe_extractor]") {
  Fixture f;
  Entry e = file("config/tagged", 2);
  e.xattr("nonsense.namespace", "x");
  f.put(e, "hi");
  f.ex.finish();
  CHECK(read_file(f.config + "/tagged") == "hi");
  REQUIRE(f.reporter.warnings.size() == 1);
  CHECK_THAT(f.reporter.warnings[0], Catch::Contains("nonsense.namespace"));
}

TEST_CASE("SafeExtractor: symlinks are made as links, never followed", "[safe_extractor]") {
  Fixture f;
  make_dirs(f.tmp / "outside");
  write_file(f.tmp / "outside/victim", "untouched", 0600);
  const struct stat before = lstat_of(f.tmp / "outside/victim");

  Entry link("config/escape", AE_IFLNK, 0777);
  link.symlink(f.tmp / "outside/victim").mtime(kSec, 42);
  f.put(link);
  Entry relative("config/rel", AE_IFLNK, 0777);
  relative.symlink("../stage-data/x");
  f.put(relative);
  f.ex.finish();

  struct stat st = lstat_of(f.config + "/escape");
  CHECK(S_ISLNK(st.st_mode));
  CHECK(st.st_mtim.tv_sec == kSec);
  CHECK(st.st_mtim.tv_nsec == 42);
  CHECK(std::filesystem::read_symlink(f.config + "/escape").string() == f.tmp / "outside/victim");
  CHECK(std::filesystem::read_symlink(f.config + "/rel").string() == "../stage-data/x");
  CHECK_FALSE(exists_no_follow(f.data + "/x"));
  // The link's target kept its mode and mtime.
  const struct stat after = lstat_of(f.tmp / "outside/victim");
  CHECK(after.st_mode == before.st_mode);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  CHECK(read_file(f.tmp / "outside/victim") == "untouched");
}

TEST_CASE("SafeExtractor: a file entry over an extracted symlink is refused", "[safe_extractor]") {
  Fixture f;
  make_dirs(f.tmp / "outside");
  write_file(f.tmp / "outside/victim", "untouched");
  Entry link("config/escape", AE_IFLNK, 0777);
  link.symlink(f.tmp / "outside/victim");
  f.put(link);
  CHECK(kind_of([&] { f.put(file("config/escape", 5), "owned"); }) == jb::ErrorKind::kDamaged);
  CHECK(read_file(f.tmp / "outside/victim") == "untouched");
}

TEST_CASE("SafeExtractor: a hardlink within its tree", "[safe_extractor]") {
  Fixture f;
  f.put(file("data/data/device.txt", 6), "device");
  f.put(file("data/metadata/device-hardlink", 0).hardlink("data/data/device.txt"));
  f.ex.finish();
  struct stat a = lstat_of(f.data + "/data/device.txt");
  struct stat b = lstat_of(f.data + "/metadata/device-hardlink");
  CHECK(a.st_ino == b.st_ino);
  CHECK(a.st_nlink == 2);
  CHECK(read_file(f.data + "/metadata/device-hardlink") == "device");
  CHECK(f.ex.files() == 2);
  CHECK(f.ex.bytes() == 6);
}

TEST_CASE("SafeExtractor: a FIFO", "[safe_extractor]") {
  Fixture f;
  Entry fifo("data/transcodes/pipe", AE_IFIFO, 0640);
  f.put(fifo);
  f.ex.finish();
  struct stat st = lstat_of(f.data + "/transcodes/pipe");
  CHECK(S_ISFIFO(st.st_mode));
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(st.st_mtim.tv_sec == kSec);
  CHECK(st.st_mtim.tv_nsec == kNsec);
}

TEST_CASE("SafeExtractor: device nodes only as root", "[safe_extractor]") {
  Fixture f;
  Entry dev("data/null", AE_IFCHR, 0666);
  archive_entry_set_rdev(dev.get(), makedev(1, 3));
  f.put(dev);
  f.ex.finish();
  if (::geteuid() == 0) {
    struct stat st = lstat_of(f.data + "/null");
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(1, 3));
    CHECK((st.st_mode & 07777) == 0666);
  } else {
    CHECK_FALSE(exists_no_follow(f.data + "/null"));
    REQUIRE(f.reporter.warnings.size() == 1);
    CHECK_THAT(f.reporter.warnings[0], Catch::Contains("device node"));
  }
}

TEST_CASE("SafeExtractor: directory metadata is applied at finish()", "[safe_extractor]") {
  Fixture f;
  f.put(dir("config", 0750).mtime(kSec - 100, 1));
  f.put(dir("config/ro", 0555).mtime(kSec - 200, 2));
  f.put(dir("config/ro/nested", 0500).mtime(kSec - 300, 3));
  f.put(file("config/ro/nested/inside.txt", 6, 0444), "inside");
  f.put(file("config/ro/also.txt", 4), "also");
  f.put(dir("config/rw/").mtime(kSec - 400, 4).xattr("user.dir", "on a directory"));

  // Before finish(): still writable, private.
  CHECK((lstat_of(f.config + "/ro").st_mode & 07777) == 0700);
  CHECK((lstat_of(f.config + "/ro/nested").st_mode & 07777) == 0700);
  f.ex.finish();

  struct stat root = lstat_of(f.config);
  CHECK((root.st_mode & 07777) == 0750);
  CHECK(root.st_mtim.tv_sec == kSec - 100);
  CHECK(root.st_mtim.tv_nsec == 1);
  struct stat ro = lstat_of(f.config + "/ro");
  CHECK((ro.st_mode & 07777) == 0555);
  CHECK(ro.st_mtim.tv_sec == kSec - 200);
  CHECK(ro.st_mtim.tv_nsec == 2);
  struct stat nested = lstat_of(f.config + "/ro/nested");
  CHECK((nested.st_mode & 07777) == 0500);
  CHECK(nested.st_mtim.tv_sec == kSec - 300);
  CHECK(nested.st_mtim.tv_nsec == 3);
  struct stat rw = lstat_of(f.config + "/rw");
  CHECK((rw.st_mode & 07777) == 0755);
  CHECK(rw.st_mtim.tv_sec == kSec - 400);
  char buf[64];
  ssize_t n = ::lgetxattr((f.config + "/rw").c_str(), "user.dir", buf, sizeof buf);
  REQUIRE(n >= 0);
  CHECK(std::string(buf, static_cast<std::size_t>(n)) == "on a directory");
  CHECK(read_file(f.config + "/ro/nested/inside.txt") == "inside");
  CHECK(read_file(f.config + "/ro/also.txt") == "also");
  CHECK(f.ex.files() == 2);
}

TEST_CASE("SafeExtractor: parents the archive does not list are made private",
          "[safe_extractor]") {
  Fixture f;
  f.put(file("data/a/b/c/file", 1), "x");
  f.ex.finish();
  CHECK(read_file(f.data + "/a/b/c/file") == "x");
  CHECK((lstat_of(f.data + "/a").st_mode & 07777) == 0700);
  CHECK((lstat_of(f.data + "/a/b/c").st_mode & 07777) == 0700);
}

TEST_CASE("SafeExtractor: a directory entry after its contents is accepted", "[safe_extractor]") {
  Fixture f;
  f.put(file("data/late/file", 1), "x");
  f.put(dir("data/late", 0751));
  f.ex.finish();
  CHECK((lstat_of(f.data + "/late").st_mode & 07777) == 0751);
  CHECK(read_file(f.data + "/late/file") == "x");
}

TEST_CASE("SafeExtractor: entries of trees not asked for are skipped", "[safe_extractor]") {
  Fixture f(/*with_data=*/false);
  f.put(dir("data"));
  f.put(file("data/data/jellyfin.db", 5), "hello");
  f.put(file("data/link", 0).hardlink("data/data/jellyfin.db"));
  f.put(file("MANIFEST.json", 2), "{}");
  f.put(file("config/kept", 4), "kept");
  f.ex.finish();
  CHECK(empty_dir(f.data));
  CHECK(read_file(f.config + "/kept") == "kept");
  CHECK(std::distance(std::filesystem::directory_iterator(f.config),
                      std::filesystem::directory_iterator()) == 1);
  CHECK(f.ex.files() == 1);
  CHECK(f.ex.bytes() == 4);
}

TEST_CASE("SafeExtractor: a symlinked parent planted in staging is never written through",
          "[safe_extractor]") {
  Fixture f;
  make_dirs(f.tmp / "sentinel");
  REQUIRE(::symlink((f.tmp / "sentinel").c_str(), (f.config + "/evil").c_str()) == 0);

  SECTION("a file directly beneath it") {
    CHECK(kind_of([&] { f.put(file("config/evil/payload", 5), "owned"); }) ==
          jb::ErrorKind::kDamaged);
  }
  SECTION("a file deeper beneath it") {
    CHECK(kind_of([&] { f.put(file("config/evil/sub/payload", 5), "owned"); }) ==
          jb::ErrorKind::kDamaged);
  }
  SECTION("a directory beneath it") {
    CHECK(kind_of([&] { f.put(dir("config/evil/dir")); }) == jb::ErrorKind::kDamaged);
  }
  SECTION("a symlink beneath it") {
    Entry link("config/evil/link", AE_IFLNK, 0777);
    link.symlink("/etc/passwd");
    CHECK(kind_of([&] { f.put(link); }) == jb::ErrorKind::kDamaged);
  }
  SECTION("a hardlink beneath it") {
    f.put(file("config/real", 1), "x");
    CHECK(kind_of([&] { f.put(file("config/evil/hl", 0).hardlink("config/real")); }) ==
          jb::ErrorKind::kDamaged);
  }
  SECTION("a directory entry with the symlink's name, then a file beneath") {
    CHECK_THROWS_AS(f.put(dir("config/evil")), jb::Error);
    CHECK(kind_of([&] { f.put(file("config/evil/payload", 5), "owned"); }) ==
          jb::ErrorKind::kDamaged);
  }
  CHECK(empty_dir(f.tmp / "sentinel"));
}

TEST_CASE("SafeExtractor: a symlink from the archive is not a parent for later entries",
          "[safe_extractor]") {
  Fixture f;
  make_dirs(f.tmp / "sentinel");
  Entry link("data/evil", AE_IFLNK, 0777);
  link.symlink(f.tmp / "sentinel");
  f.put(link);
  CHECK(kind_of([&] { f.put(file("data/evil/payload", 5), "owned"); }) == jb::ErrorKind::kDamaged);
  CHECK(empty_dir(f.tmp / "sentinel"));
}

TEST_CASE("SafeExtractor: a parent that is a regular file is refused", "[safe_extractor]") {
  Fixture f;
  f.put(file("config/plain", 1), "x");
  CHECK(kind_of([&] { f.put(file("config/plain/inner", 1), "y"); }) == jb::ErrorKind::kDamaged);
  CHECK(read_file(f.config + "/plain") == "x");
}

TEST_CASE("SafeExtractor: \"..\" components never leave the staging directory",
          "[safe_extractor]") {
  // The Verifier refuses such paths before they get here; the extractor's
  // own promise is to be safe against hostile archives regardless.
  Fixture f;
  write_file(f.tmp / "outside-file", "secret");
  SECTION("a file") {
    CHECK_THROWS_AS(f.put(file("config/../escaped", 5), "owned"), jb::Error);
    CHECK_FALSE(exists_no_follow(f.tmp / "escaped"));
  }
  SECTION("a hardlink to a file outside") {
    CHECK_THROWS_AS(f.put(file("config/stolen", 0).hardlink("config/../outside-file")), jb::Error);
    CHECK_FALSE(exists_no_follow(f.config + "/stolen"));
  }
}

TEST_CASE("SafeExtractor: duplicate entries are refused", "[safe_extractor]") {
  Fixture f;
  SECTION("a file twice") {
    f.put(file("config/system.xml", 5), "first");
    CHECK(kind_of([&] { f.put(file("config/system.xml", 6), "second"); }) ==
          jb::ErrorKind::kDamaged);
    CHECK(read_file(f.config + "/system.xml") == "first");
  }
  SECTION("a symlink over a file") {
    f.put(file("config/system.xml", 5), "first");
    Entry link("config/system.xml", AE_IFLNK, 0777);
    link.symlink("/etc/passwd");
    CHECK(kind_of([&] { f.put(link); }) == jb::ErrorKind::kDamaged);
    CHECK(read_file(f.config + "/system.xml") == "first");
  }
  SECTION("a hardlink over a file") {
    f.put(file("config/a", 1), "a");
    f.put(file("config/b", 1), "b");
    CHECK(kind_of([&] { f.put(file("config/b", 0).hardlink("config/a")); }) ==
          jb::ErrorKind::kDamaged);
    CHECK(read_file(f.config + "/b") == "b");
  }
  SECTION("a FIFO over a file") {
    f.put(file("config/a", 1), "a");
    CHECK(kind_of([&] { f.put(Entry("config/a", AE_IFIFO, 0600)); }) == jb::ErrorKind::kDamaged);
  }
  SECTION("a directory over a file") {
    f.put(file("config/a", 1), "a");
    CHECK(kind_of([&] { f.put(dir("config/a")); }) == jb::ErrorKind::kDamaged);
  }
}

TEST_CASE("SafeExtractor: hardlinks must stay in their tree and point at files",
          "[safe_extractor]") {
  Fixture f;
  f.put(file("data/x", 1), "x");
  f.put(dir("config/d"));
  SECTION("into the other tree") {
    CHECK(kind_of([&] { f.put(file("config/hl", 0).hardlink("data/x")); }) ==
          jb::ErrorKind::kDamaged);
  }
  SECTION("absolute") {
    CHECK(kind_of([&] { f.put(file("config/hl", 0).hardlink("/etc/passwd")); }) ==
          jb::ErrorKind::kDamaged);
  }
  SECTION("a tree name prefix is not the tree") {
    CHECK(kind_of([&] { f.put(file("config/hl", 0).hardlink("configX/y")); }) ==
          jb::ErrorKind::kDamaged);
  }
  SECTION("to a file not extracted (yet)") {
    CHECK(kind_of([&] { f.put(file("config/hl", 0).hardlink("config/later")); }) ==
          jb::ErrorKind::kDamaged);
  }
  SECTION("to a directory") {
    CHECK(kind_of([&] { f.put(file("config/hl", 0).hardlink("config/d")); }) ==
          jb::ErrorKind::kDamaged);
  }
  CHECK_FALSE(exists_no_follow(f.config + "/hl"));
}

TEST_CASE("SafeExtractor: data beyond the header's size is refused", "[safe_extractor]") {
  Fixture f;
  SECTION("a block too long") {
    f.ex.begin_entry(file("config/a", 4).get());
    CHECK(kind_of([&] { f.ex.data(DataBlock{0, "12345678"}); }) == jb::ErrorKind::kDamaged);
  }
  SECTION("a block past the end") {
    f.ex.begin_entry(file("config/a", 4).get());
    CHECK(kind_of([&] { f.ex.data(DataBlock{5, "x"}); }) == jb::ErrorKind::kDamaged);
  }
  SECTION("a block that ends one byte past the end") {
    f.ex.begin_entry(file("config/a", 4).get());
    f.ex.data(DataBlock{0, "12"});
    CHECK(kind_of([&] { f.ex.data(DataBlock{2, "345"}); }) == jb::ErrorKind::kDamaged);
  }
  SECTION("a huge offset does not wrap around") {
    f.ex.begin_entry(file("config/a", 4).get());
    CHECK(kind_of([&] { f.ex.data(DataBlock{~std::uint64_t{0}, "x"}); }) ==
          jb::ErrorKind::kDamaged);
  }
  CHECK(lstat_of(f.config + "/a").st_size <= 4);
}

TEST_CASE("SafeExtractor: a tree root that is not a directory is refused", "[safe_extractor]") {
  Fixture f;
  CHECK(kind_of([&] { f.put(file("config", 1), "x"); }) == jb::ErrorKind::kDamaged);
}

TEST_CASE("SafeExtractor: unsupported entry types are refused", "[safe_extractor]") {
  Fixture f;
  CHECK(kind_of([&] { f.put(Entry("config/sock", AE_IFSOCK, 0755)); }) == jb::ErrorKind::kDamaged);
}

TEST_CASE("SafeExtractor: setuid and setgid bits only as root", "[safe_extractor]") {
  Fixture f;
  f.put(file("data/suid", 1, 04755), "x");
  f.put(file("data/sgid", 1, 02755), "x");
  f.put(dir("data/sticky", 01777));
  f.ex.finish();
  if (::geteuid() == 0) {
    WARN("running as root: checking the bits are kept, not dropped");
    CHECK((lstat_of(f.data + "/suid").st_mode & 07777) == 04755);
    CHECK((lstat_of(f.data + "/sgid").st_mode & 07777) == 02755);
    CHECK((lstat_of(f.data + "/sticky").st_mode & 07777) == 01777);
  } else {
    CHECK((lstat_of(f.data + "/suid").st_mode & 07777) == 0755);
    CHECK((lstat_of(f.data + "/sgid").st_mode & 07777) == 0755);
    CHECK((lstat_of(f.data + "/sticky").st_mode & 07777) == 0777);
  }
}

TEST_CASE("SafeExtractor: ownership as root, names before numbers", "[safe_extractor]") {
  if (::geteuid() != 0) {
    WARN("not root: ownership is not restored, nothing to check");
    return;
  }
  Fixture f;
  Entry numeric = file("data/numeric", 1);
  archive_entry_set_uid(numeric.get(), 12345);
  archive_entry_set_gid(numeric.get(), 23456);
  f.put(numeric, "x");
  Entry named = file("data/named", 1);
  archive_entry_set_uid(named.get(), 4321);
  archive_entry_set_gid(named.get(), 5432);
  archive_entry_set_uname(named.get(), "root");
  archive_entry_set_gname(named.get(), "root");
  f.put(named, "x");
  Entry unknown = file("data/unknown", 1);
  archive_entry_set_uid(unknown.get(), 777);
  archive_entry_set_gid(unknown.get(), 888);
  archive_entry_set_uname(unknown.get(), "jb-no-such-user-here");
  archive_entry_set_gname(unknown.get(), "jb-no-such-group-here");
  f.put(unknown, "x");
  Entry link("data/link", AE_IFLNK, 0777);
  link.symlink("numeric");
  archive_entry_set_uid(link.get(), 12345);
  archive_entry_set_gid(link.get(), 23456);
  f.put(link);
  f.ex.finish();

  struct stat st = lstat_of(f.data + "/numeric");
  CHECK(st.st_uid == 12345);
  CHECK(st.st_gid == 23456);
  st = lstat_of(f.data + "/named");
  CHECK(st.st_uid == 0);
  CHECK(st.st_gid == 0);
  st = lstat_of(f.data + "/unknown");
  CHECK(st.st_uid == 777);
  CHECK(st.st_gid == 888);
  st = lstat_of(f.data + "/link");
  CHECK(st.st_uid == 12345);
  CHECK(st.st_gid == 23456);
}

TEST_CASE("SafeExtractor: unprivileged, setuid/setgid dropped, read-only directories filled "
          "first, no device nodes",
          "[safe_extractor]") {
  TempDir tmp;
  REQUIRE(::chmod(tmp.path().c_str(), 0755) == 0);
  const std::string stage = tmp / "stage-data";
  make_dirs(stage);
  if (::geteuid() == 0)
    REQUIRE(::chown(stage.c_str(), jb::test::kUnprivilegedId, jb::test::kUnprivilegedId) == 0);
  jb::UniqueFd stage_fd(::open(stage.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(stage_fd);

  auto result = jb::test::run_unprivileged([&]() -> std::string {
    RecordingReporter reporter;
    SafeExtractor ex({{"data", stage_fd.get(), stage}}, reporter);
    auto put = [&](const Entry& entry, const std::string& content) {
      ex.begin_entry(entry.get());
      if (!content.empty()) ex.data(DataBlock{0, content});
      ex.end_entry();
    };
    put(dir("data", 0755), "");
    put(file("data/suid", 1, 04755), "s");
    put(file("data/sgid", 1, 02755), "g");
    put(dir("data/ro", 0555), "");
    put(dir("data/ro/inner", 0500), "");
    put(file("data/ro/inner/deep", 4, 0400), "deep");
    put(file("data/ro/file", 4, 0444), "file");
    put(file("data/ro/hardlink", 0).hardlink("data/ro/file"), "");
    Entry dev("data/null", AE_IFCHR, 0666);
    archive_entry_set_rdev(dev.get(), makedev(1, 3));
    put(dev, "");
    ex.finish();
    std::string warnings;
    for (const auto& w : reporter.warnings) warnings += w + "\n";
    return warnings;
  });
  INFO(result.text);
  REQUIRE(result.ok);
  CHECK((lstat_of(stage + "/suid").st_mode & 07777) == 0755);
  CHECK((lstat_of(stage + "/sgid").st_mode & 07777) == 0755);
  CHECK((lstat_of(stage + "/ro").st_mode & 07777) == 0555);
  CHECK((lstat_of(stage + "/ro/inner").st_mode & 07777) == 0500);
  CHECK(read_file(stage + "/ro/inner/deep") == "deep");
  CHECK(read_file(stage + "/ro/file") == "file");
  CHECK(lstat_of(stage + "/ro/hardlink").st_ino == lstat_of(stage + "/ro/file").st_ino);
  CHECK_FALSE(exists_no_follow(stage + "/null"));
  CHECK_THAT(result.text, Catch::Contains("device node"));
}

namespace {

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace

TEST_CASE("SafeExtractor: a deep tree reuses a bounded chain of directory fds",
          "[safe_extractor]") {
  // The deepest tree the Verifier accepts, every level listed, with a file
  // and a sibling directory at each level: depth first, as create writes it.
  // The chain of parent fds is reused from entry to entry, and it never
  // holds more than one fd per level.
  Fixture f;
  const std::size_t before = open_fds();
  std::size_t peak = 0;
  std::string path = "data";
  f.put(dir(path));
  for (std::size_t level = 1; level < jb::format::kMaxDepth; ++level) {
    path += "/d";
    f.put(dir(path));
    f.put(file(path + "/f", 1), "x");
    peak = std::max(peak, open_fds());
  }
  f.put(file(path + "/leaf", 4), "leaf");
  f.ex.finish();
  CHECK(peak - before <= jb::format::kMaxDepth);
  CHECK(open_fds() == before);  // finish() closed the chain
  std::string rel = path.substr(std::string("data").size());
  CHECK(read_file(f.data + rel + "/leaf") == "leaf");
  CHECK((lstat_of(f.data + rel).st_mode & 07777) == 0755);  // finish() reached every level
}

TEST_CASE("SafeExtractor: deeper than the format allows is unsafe, whoever judged the entry",
          "[safe_extractor]") {
  Fixture f;
  std::string path = "data";
  for (std::size_t level = 0; level <= jb::format::kMaxDepth; ++level) path += "/d";
  CHECK(kind_of([&] { f.put(file(path + "/f", 1), "x"); }) == jb::ErrorKind::kDamaged);
}
