#include "jellyfin_backup/copy/copy.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/create/create.h"
#include "test_util.h"

using jb::test::error_of;
using jb::test::make_dirs;
using jb::test::read_file;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// One real archive in tmp/src-backups, made by create.
std::string make_archive(const TempDir& tmp) {
  make_dirs(tmp / "src-backups");
  return jb::test::create_sample_archive(tmp / "src-backups", std::string("10.11.0"));
}

}  // namespace

TEST_CASE("copy: into a directory, same bytes, sidecar of the copy", "[copy]") {
  TempDir tmp;
  const std::string archive = make_archive(tmp);
  const std::string name = std::filesystem::path(archive).filename();
  make_dirs(tmp / "dest");
  RecordingReporter reporter;
  jb::CopyResult r = jb::copy_archive({archive, tmp / "dest"}, reporter);

  CHECK(r.dest == tmp / "dest" + "/" + name);
  CHECK(read_file(r.dest) == read_file(archive));
  CHECK(r.bytes == read_file(archive).size());
  CHECK(r.xxh128 == jb::Xxh128::hex_of(read_file(archive)));
  CHECK(r.verify.ok());
  CHECK(r.verify.files > 0);
  CHECK(r.sidecar_written);
  CHECK(read_file(r.dest + ".xxh128") == jb::format_sidecar(r.xxh128, name));
  CHECK(list_dir(tmp / "dest") == std::vector<std::string>{name, name + ".checked", name + ".xxh128"});
  CHECK(reporter.warnings.empty());
}

TEST_CASE("copy: to a file name", "[copy]") {
  TempDir tmp;
  const std::string archive = make_archive(tmp);
  make_dirs(tmp / "dest");
  RecordingReporter reporter;
  jb::CopyResult r = jb::copy_archive({archive, tmp / "dest/other.tar.zst"}, reporter);
  CHECK(r.dest == tmp / "dest/other.tar.zst");
  CHECK(read_file(tmp / "dest/other.tar.zst") == read_file(archive));
  CHECK(read_file(tmp / "dest/other.tar.zst.xxh128") == jb::format_sidecar(r.xxh128, "other.tar.zst"));
}

TEST_CASE("copy: a damaged source leaves nothing at the destination", "[copy]") {
  TempDir tmp;
  const std::string archive = make_archive(tmp);
  std::string bytes = read_file(archive);
  bytes[bytes.size() / 2] ^= 0x10;
  write_file(tmp / "bad.tar.zst", bytes);
  make_dirs(tmp / "dest");
  RecordingReporter reporter;
  auto e = error_of([&] { jb::copy_archive({tmp / "bad.tar.zst", tmp / "dest"}, reporter); });
  CHECK(e.kind() == jb::ErrorKind::kDamaged);
  CHECK_THAT(e.full_message(), Catch::Contains("bad.tar.zst"));
  CHECK_THAT(e.full_message(), Catch::Contains("nothing was copied"));
  CHECK(list_dir(tmp / "dest").empty());
}

TEST_CASE("copy: data after the end of the archive is damage too", "[copy]") {
  TempDir tmp;
  const std::string archive = make_archive(tmp);
  write_file(tmp / "long.tar.zst", read_file(archive) + "trailing garbage");
  make_dirs(tmp / "dest");
  RecordingReporter reporter;
  CHECK(error_of([&] { jb::copy_archive({tmp / "long.tar.zst", tmp / "dest"}, reporter); }).kind() ==
        jb::ErrorKind::kDamaged);
  CHECK(list_dir(tmp / "dest").empty());
}

TEST_CASE("copy: an existing destination is refused before anything is read", "[copy]") {
  TempDir tmp;
  const std::string archive = make_archive(tmp);
  make_dirs(tmp / "dest");
  write_file(tmp / "dest/x.tar.zst", "precious");
  RecordingReporter reporter;
  auto e = error_of([&] { jb::copy_archive({archive, tmp / "dest/x.tar.zst"}, reporter); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK_THAT(e.full_message(), Catch::Contains("already exists"));
  CHECK(read_file(tmp / "dest/x.tar.zst") == "precious");
  CHECK(list_dir(tmp / "dest") == std::vector<std::string>{"x.tar.zst"});
}

TEST_CASE("copy: a source that is not an archive", "[copy]") {
  TempDir tmp;
  write_file(tmp / "notes.tar.zst", "hello, not zstd at all");
  make_dirs(tmp / "dest");
  RecordingReporter reporter;
  CHECK(error_of([&] { jb::copy_archive({tmp / "notes.tar.zst", tmp / "dest"}, reporter); }).kind() ==
        jb::ErrorKind::kDamaged);
  CHECK(list_dir(tmp / "dest").empty());
}
