#include "jellyfin_backup/io/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/lock_file.h"
#include "test_util.h"

using jb::Location;
using jb::open_store;
using jb::parse_location;
using jb::Store;
using jb::StoredFile;
using jb::test::error_of;
using jb::test::make_dirs;
using jb::test::RcloneServer;
using jb::test::read_file;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> listed(const Store& store) {
  std::vector<std::string> names;
  for (const StoredFile& f : store.list()) names.push_back(f.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_all(jb::Source& source) {
  std::string out;
  char buffer[4096];
  while (std::size_t n = source.read(buffer, sizeof buffer)) out.append(buffer, n);
  return out;
}

void set_mtime(const std::string& path, std::int64_t sec, long nsec) {
  std::array<timespec, 2> times = {timespec{0, UTIME_OMIT}, timespec{sec, nsec}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times.data(), 0) == 0);
}

using Names = std::vector<std::string>;

// What every Store does, whatever its kind. `disk` is the directory that
// `store` shows (for a remote: the directory its server serves).
void check_store_contract(const Store& store, const std::string& disk) {
  SECTION("an empty directory lists as empty") {
    CHECK(store.list().empty());
    CHECK(store.stat("x.tar.zst") == std::nullopt);
  }

  SECTION("list: the regular files directly in it, hidden ones too, with size and time") {
    write_file(disk + "/a.tar.zst", "12345");
    write_file(disk + "/.hidden", "");
    make_dirs(disk + "/sub");
    write_file(disk + "/sub/nested.tar.zst", "x");
    set_mtime(disk + "/a.tar.zst", 1700000000, 0);
    CHECK(listed(store) == Names{".hidden", "a.tar.zst"});
    for (const StoredFile& f : store.list()) {
      if (f.name != "a.tar.zst") continue;
      CHECK(f.size == 5);
      CHECK(f.mtime == 1700000000);
    }
    auto a = store.stat("a.tar.zst");
    REQUIRE(a);
    CHECK(a->name == "a.tar.zst");
    CHECK(a->size == 5);
    CHECK(a->mtime == 1700000000);
    CHECK(store.stat("sub") == std::nullopt);  // not a file of the store
    CHECK(store.stat("missing") == std::nullopt);
  }

  SECTION("create: nothing under the name before commit, then the whole file") {
    {
      auto sink = store.create("b.tar.zst");
      CHECK(sink->name() == store.display("b.tar.zst"));
      sink->write("archive ", 8);
      sink->write("bytes", 5);
      CHECK(store.stat("b.tar.zst") == std::nullopt);
      CHECK_FALSE(std::filesystem::exists(disk + "/b.tar.zst"));
      sink->commit();
    }
    CHECK(read_file(disk + "/b.tar.zst") == "archive bytes");
    CHECK(names_in(disk) == Names{"b.tar.zst"});
    CHECK(store.stat("b.tar.zst")->size == 13);

    auto source = store.open("b.tar.zst");
    CHECK(source->name() == store.display("b.tar.zst"));
    CHECK(source->size() == 13);
    CHECK(read_all(*source) == "archive bytes");
    // `head` may cut the read short, or not (a local file ignores it).
    CHECK(read_all(*store.open("b.tar.zst", 7)).starts_with("archive"));
  }

  SECTION("create: an existing name is refused and kept") {
    write_file(disk + "/c.tar.zst", "precious");
    jb::Error e = error_of([&] { store.create("c.tar.zst"); });
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK(std::string(e.what()) == store.display("c.tar.zst") + ": already exists");
    CHECK(read_file(disk + "/c.tar.zst") == "precious");
    CHECK(names_in(disk) == Names{"c.tar.zst"});
  }

  SECTION("create: without commit nothing is left behind") {
    {
      auto sink = store.create("d.tar.zst");
      sink->write("partial", 7);
    }
    CHECK(names_in(disk).empty());
  }

  SECTION("small files: missing, written, replaced, capped") {
    CHECK(store.read_small("s.json", 100) == std::nullopt);
    store.write_small("s.json", "first");
    CHECK(read_file(disk + "/s.json") == "first");
    store.write_small("s.json", "other");  // same size, same second
    CHECK(store.read_small("s.json", 100) == "other");
    CHECK(store.read_small("s.json", 2) == "oth");  // max + 1: the caller sees it is too big
    CHECK(names_in(disk) == Names{"s.json"});
  }

  SECTION("remove: a file, and a missing file is fine") {
    write_file(disk + "/e.tar.zst", "x");
    store.remove("e.tar.zst");
    CHECK(names_in(disk).empty());
    store.remove("e.tar.zst");
  }

  SECTION("a missing directory, or a file, is a usage error") {
    auto missing = open_store(join(store.location(), "nodir"));
    jb::Error e = error_of([&] { missing->list(); });
    CHECK(e.kind() == jb::ErrorKind::kUsage);
    CHECK(e.full_message() ==
          missing->location().display() + ": no such directory; check the path");
    CHECK(missing->read_small("s.json", 10) == std::nullopt);
    CHECK(missing->stat("x") == std::nullopt);

    write_file(disk + "/plain", "x");
    auto file = open_store(join(store.location(), "plain"));
    e = error_of([&] { file->list(); });
    CHECK(e.kind() == jb::ErrorKind::kUsage);
    CHECK(std::string(e.what()) == file->location().display() + ": not a directory");
  }
}

}  // namespace

TEST_CASE("store: a local directory keeps the Store contract", "[store]") {
  TempDir tmp;
  const std::string disk = tmp / "backups";
  make_dirs(disk);
  auto store = open_store(parse_location(disk));
  CHECK(store->location().display() == disk);
  CHECK(store->display("x.tar.zst") == disk + "/x.tar.zst");
  check_store_contract(*store, disk);
}

TEST_CASE("store: an rclone remote keeps the Store contract", "[store]") {
  JB_SKIP_WITHOUT_RCLONE("the Store contract over rclone");
  TempDir tmp;
  RcloneServer server(tmp.path());
  make_dirs(tmp / "backups");
  auto store = open_store(parse_location("rclone:jbtest:backups"));
  CHECK(store->location().display() == "rclone:jbtest:backups");
  CHECK(store->display("x.tar.zst") == "rclone:jbtest:backups/x.tar.zst");
  check_store_contract(*store, tmp / "backups");
}

TEST_CASE("store: the remote root is a directory too", "[store]") {
  JB_SKIP_WITHOUT_RCLONE("the remote root");
  TempDir tmp;
  RcloneServer server(tmp.path());
  write_file(tmp / "x", "1");  // a file named like nothing in particular
  auto store = open_store(parse_location("rclone:jbtest:"));
  CHECK(listed(*store) == Names{"x"});
  CHECK(store->display("x") == "rclone:jbtest:x");
  // A directory holding one file of its own name is still a directory.
  make_dirs(tmp / "same");
  write_file(tmp / "same/same", "1");
  CHECK(listed(*open_store(parse_location("rclone:jbtest:same"))) == Names{"same"});
}

TEST_CASE("store: local details", "[store]") {
  TempDir tmp;
  auto store = open_store(parse_location(tmp.path()));
  // Symlinks are not followed: a link is not an archive of this directory.
  write_file(tmp / "real", "1");
  REQUIRE(::symlink("real", (tmp / "link").c_str()) == 0);
  CHECK(listed(*store) == Names{"real"});
  CHECK(store->stat("link") == std::nullopt);
  // Nanoseconds, where the filesystem keeps them.
  set_mtime(tmp / "real", 1700000000, 123456789);
  CHECK(store->stat("real")->mtime_nsec == 123456789);
  // The sidecar replaced is a 0600 file like any file we write.
  store->write_small("s", "x");
  struct stat st;
  REQUIRE(::stat((tmp / "s").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("store: standard input/output is not a directory", "[store]") {
  jb::Error e = error_of([] { open_store(parse_location("-")); });
  CHECK(e.kind() == jb::ErrorKind::kUsage);
}

TEST_CASE("store: lock paths", "[store]") {
  // A local directory's lock is keyed by its resolved path, outside it.
  jb::test::TempDir tmp;
  const std::string real = jb::test::real_path(tmp.path());
  jb::test::make_dirs(tmp / "out");
  REQUIRE(::symlink((real + "/out").c_str(), (tmp / "link").c_str()) == 0);
  CHECK(open_store(parse_location(tmp / "out"))->lock_path() == jb::keyed_lock_path(real + "/out"));
  CHECK(open_store(parse_location(tmp / "out/"))->lock_path() == jb::keyed_lock_path(real + "/out"));
  CHECK(open_store(parse_location(tmp / "link"))->lock_path() == jb::keyed_lock_path(real + "/out"));
  // A remote's lock is a local file named after the remote and a hash of
  // the directory: one lock per directory, however it is written.
  auto lock_of = [](const std::string& where) { return open_store(parse_location(where))->lock_path(); };
  CHECK(lock_of("rclone:s3:bucket/jb") == lock_of("rclone:s3:bucket/jb/"));
  CHECK(lock_of("rclone:s3:bucket/jb") != lock_of("rclone:s3:bucket/jb2"));
  CHECK(lock_of("rclone:s3:bucket/jb") != lock_of("rclone:b2:bucket/jb"));
  CHECK(lock_of("rclone:s3:bucket/jb").find("/jellyfin-backup.rclone_s3_") != std::string::npos);
  CHECK(lock_of("rclone:s3:").find("/jellyfin-backup.rclone_s3_") != std::string::npos);
  // Credentials of an on-the-fly remote never reach the lock file's name.
  const std::string secret = lock_of("rclone::s3,access_key_id=AKIA,secret_access_key=hunter2:bucket");
  CHECK(secret.find("hunter2") == std::string::npos);
  CHECK(secret.find("AKIA") == std::string::npos);
  CHECK(secret.find("/jellyfin-backup.rclone_s3_") != std::string::npos);
}

TEST_CASE("store: a planted FIFO, device or symlink is never read, and never blocks", "[store]") {
  // Anyone who can put a file in the backup directory is untrusted: a FIFO
  // named like a sidecar once made verify block for ever.
  TempDir tmp;
  auto store = open_store(parse_location(tmp.path()));
  REQUIRE(::mkfifo((tmp / "a.tar.zst.xxh128").c_str(), 0644) == 0);
  REQUIRE(::mkfifo((tmp / "b.tar.zst").c_str(), 0644) == 0);
  write_file(tmp / "secret", "root's");
  REQUIRE(::symlink((tmp / "secret").c_str(), (tmp / "c.tar.zst.xxh128").c_str()) == 0);
  REQUIRE(::symlink((tmp / "secret").c_str(), (tmp / "d.tar.zst").c_str()) == 0);
  REQUIRE(::symlink("/dev/zero", (tmp / "e.tar.zst").c_str()) == 0);

  // Each would block (a FIFO with no writer) or read what it leads to; a
  // test that hangs here is the bug.
  for (const char* sidecar : {"a.tar.zst.xxh128", "c.tar.zst.xxh128"}) {
    jb::Error e = error_of([&] { store->read_small(sidecar, 4096); });
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK_THAT(e.full_message(), Catch::Contains(std::string(sidecar) + ": not a regular file: not read"));
  }
  for (const char* archive : {"b.tar.zst", "d.tar.zst", "e.tar.zst"}) {
    jb::Error e = error_of([&] { store->open(archive); });
    CHECK(e.kind() == jb::ErrorKind::kRefused);
    CHECK_THAT(e.full_message(), Catch::Contains(tmp / archive));
  }
  CHECK_THAT(error_of([&] { store->open("b.tar.zst"); }).full_message(),
             Catch::Contains("not a regular file (a FIFO, socket or device): not read"));
  CHECK_THAT(error_of([&] { store->open("d.tar.zst"); }).full_message(), Catch::Contains("is a symlink: not followed"));
  // Nor are they files of the store.
  CHECK(listed(*store) == Names{"secret"});
  CHECK(store->read_small("missing", 10) == std::nullopt);
  CHECK(store->read_small("secret", 10) == "root's");
}

TEST_CASE("store: an archive path named explicitly is read only if it is a regular file", "[store]") {
  // Decided: an explicit FIFO is refused too (a stream is `-`), and so is a
  // symlink in the last component: the same rule everywhere, pointing at `-`.
  TempDir tmp;
  REQUIRE(::mkfifo((tmp / "fifo").c_str(), 0644) == 0);
  jb::Error e = error_of([&] { jb::open_source(tmp / "fifo"); });
  CHECK(e.kind() == jb::ErrorKind::kRefused);
  CHECK_THAT(e.full_message(), Catch::Contains("name the archive as `-`"));
  e = error_of([&] { jb::open_source(tmp / "missing"); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK_THAT(e.full_message(), Catch::Contains("cannot open archive"));
  e = error_of([&] { jb::open_source(tmp.path()); });
  CHECK_THAT(e.full_message(), Catch::Contains("is a directory, not an archive"));
  write_file(tmp / "regular", "12345");
  auto source = jb::open_source(tmp / "regular");
  CHECK(source->size() == 5u);
  char buffer[8];
  CHECK(source->read(buffer, sizeof buffer) == 5u);
}

TEST_CASE("store: the lock key of a directory that does not exist yet is its normalised path", "[store]") {
  TempDir tmp;
  const std::string real = jb::test::real_path(tmp.path());
  CHECK(open_store(parse_location(tmp / "new"))->lock_path() == jb::keyed_lock_path(real + "/new"));
  CHECK(open_store(parse_location(tmp / "x/../new/"))->lock_path() == jb::keyed_lock_path(real + "/new"));
}
