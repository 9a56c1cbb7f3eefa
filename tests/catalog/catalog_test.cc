#include "jellyfin_backup/catalog/catalog.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <random>

#include "jellyfin_backup/archive/check_record.h"
#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/create/create.h"
#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/store.h"
#include "test_util.h"

using jb::ArchiveInfo;
using jb::archive_file_name;
using jb::Catalog;
using jb::CatalogOptions;
using jb::SidecarState;
using jb::test::error_of;
using jb::test::make_dirs;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;
using jb::test::utc;

namespace {

// An archive made by create in `out_dir` (manifest version `version`),
// bigger than the 64 KiB head the catalog reads first; its path.
std::string create_archive_in(const std::string& out_dir, const std::optional<std::string>& version) {
  return jb::test::create_sample_archive(out_dir, version, 100000);
}

std::string make_archive(const std::optional<std::string>& version) {
  TempDir tmp;
  return jb::test::read_file(create_archive_in(tmp.path(), version));
}

const std::string& archive_v1011() {
  static const std::string bytes = make_archive(std::string("10.11.0"));
  return bytes;
}
const std::string& archive_unversioned() {
  static const std::string bytes = make_archive(std::nullopt);
  return bytes;
}

void set_mtime(const std::string& path, std::int64_t sec, long nsec = 0) {
  timespec times[2] = {{sec, nsec}, {sec, nsec}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// A backup directory on disk, read through the real local store.
struct BackupDir {
  TempDir tmp;
  std::unique_ptr<jb::Store> store = jb::open_store(jb::parse_location(tmp.path()));

  std::string put(const std::string& name, const std::string& bytes) {
    write_file(tmp / name, bytes);
    return name;
  }
  std::string put_archive(std::int64_t t, const std::string& version,
                          const std::string& bytes = archive_v1011()) {
    return put(archive_file_name(t, version), bytes);
  }
  void put_sidecar(const std::string& name, const std::string& bytes) {
    put(jb::sidecar_name(name), jb::format_sidecar(jb::Xxh128::hex_of(bytes), name));
  }
  Catalog read(CatalogOptions options = {}) {
    RecordingReporter reporter;
    return jb::read_catalog(*store, options, reporter);
  }
};

std::vector<std::string> names_of(const Catalog& c) {
  std::vector<std::string> names;
  for (const auto& a : c.archives) names.push_back(a.name);
  return names;
}

const ArchiveInfo& find(const Catalog& c, const std::string& name) {
  for (const auto& a : c.archives)
    if (a.name == name) return a;
  FAIL("not listed: " << name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("parse_archive_name: the names create generates", "[catalog]") {
  auto g = jb::parse_archive_name("jellyfin.20261125T031500Z_10.11.0.tar.zst");
  REQUIRE(g);
  CHECK(g->time == utc(2026, 11, 25, 3, 15, 0));
  CHECK(g->version == "10.11.0");
  g = jb::parse_archive_name("jellyfin.20261125T031500Z_unknown.tar.zst");
  REQUIRE(g);
  CHECK(g->version == "unknown");

  // Round trip through the writer, odd version characters included.
  for (const auto& v : {std::optional<std::string>("10.11.0-rc1+build_2"),
                        std::optional<std::string>("a/b c"), std::optional<std::string>()}) {
    const std::string name = archive_file_name(utc(2027, 1, 1, 0, 0, 0), v);
    auto parsed = jb::parse_archive_name(name);
    REQUIRE(parsed);
    CHECK(parsed->time == utc(2027, 1, 1, 0, 0, 0));
    CHECK(archive_file_name(parsed->time, parsed->version) == name);
  }

  for (const char* bad : {
           "jellyfin.20261125T031500Z_.tar.zst",          // no version
           "jellyfin.20261125T031500Z10.11.0.tar.zst",    // no '_'
           "jellyfin.20261125T031500_10.11.0.tar.zst",    // no 'Z'
           "jellyfin.2026112T5031500Z_10.11.0.tar.zst",   // 'T' misplaced
           "jellyfin.20260230T031500Z_10.11.0.tar.zst",   // Feb 30
           "jellyfin.20261325T031500Z_10.11.0.tar.zst",   // month 13
           "jellyfin.20261125T241500Z_10.11.0.tar.zst",   // hour 24
           "jellyfin.2026112aT031500Z_10.11.0.tar.zst",   // not a digit
           "jellyfin.20261125T031500Z_10 11.tar.zst",     // a character create replaces
           "jellyfin.20261125T031500Z_10.11.0.tar.gz",
           "Jellyfin.20261125T031500Z_10.11.0.tar.zst",
           "backup.tar.zst",
           "",
       }) {
    INFO(bad);
    CHECK_FALSE(jb::parse_archive_name(bad));
  }
}

TEST_CASE("catalog: lists our archives newest first, with time and version", "[catalog]") {
  BackupDir dir;
  const auto older = dir.put_archive(utc(2026, 1, 1), "10.10.7");
  const auto newer = dir.put_archive(utc(2026, 3, 1), "10.11.0");
  const auto middle = dir.put_archive(utc(2026, 2, 1), "unknown", archive_unversioned());
  Catalog c = dir.read();
  CHECK(names_of(c) == std::vector<std::string>{newer, middle, older});

  const ArchiveInfo& a = c.archives[0];
  CHECK(a.size == archive_v1011().size());
  CHECK(a.time == utc(2026, 3, 1));
  CHECK(a.created == "2026-03-01T12:00:00Z");
  CHECK(a.version == "10.11.0");
  REQUIRE(a.manifest);
  CHECK(a.manifest->app_version == "10.11.0");
  CHECK_FALSE(a.error);
  CHECK(a.mtime > 0);
  CHECK(a.sidecar == SidecarState::kMissing);
  CHECK_FALSE(a.verified());

  // The name's version wins over the manifest's...
  CHECK(c.archives[2].version == "10.10.7");
  // ... unless the name says "unknown": then the manifest's (none here).
  CHECK_FALSE(c.archives[1].version);

  // Equal times: by name, still "newest first" (the reverse of ascending).
  const auto twin = dir.put_archive(utc(2026, 3, 1), "10.11.1");
  c = dir.read();
  CHECK(names_of(c) == std::vector<std::string>{twin, newer, middle, older});
}

TEST_CASE("catalog: an archive under another name takes the manifest's time and version",
          "[catalog]") {
  BackupDir dir;
  dir.put("my-backup.tar.zst", archive_v1011());
  Catalog c = dir.read();
  REQUIRE(c.archives.size() == 1);
  const ArchiveInfo& a = c.archives[0];
  REQUIRE(a.manifest);
  CHECK(a.created == a.manifest->created);
  CHECK(a.time > utc(2020, 1, 1));
  CHECK(a.version == "10.11.0");

  // "unknown" in a generated name: the manifest's version.
  BackupDir dir2;
  const auto name = dir2.put_archive(utc(2026, 1, 1), "unknown");
  CHECK(dir2.read().archives.at(0).version == "10.11.0");
  CHECK(dir2.read().archives.at(0).time == utc(2026, 1, 1));
  (void)name;
}

TEST_CASE("catalog: ignores what is not ours, lists our damaged archives", "[catalog]") {
  BackupDir dir;
  const auto good = dir.put_archive(utc(2026, 5, 1), "10.11.0");
  dir.put("README", "backups of the media server\n");
  dir.put("foo.tar.gz", archive_v1011());
  dir.put(".hidden.tar.zst", archive_v1011());
  dir.put(".tar.zst", archive_v1011());
  dir.put("other.tar.zst", "some other program's archive");
  dir.put("empty.tar.zst", "");
  make_dirs(dir.tmp / "x.tar.zst");
  make_dirs(dir.tmp / archive_file_name(utc(2026, 7, 1), std::string("10.11.0")));
  const auto damaged = dir.put(archive_file_name(utc(2026, 6, 1), std::string("10.11.1")),
                               archive_v1011().substr(0, 40));
  const auto garbage = dir.put(archive_file_name(utc(2026, 4, 1), std::string("10.10.0")),
                               "not an archive at all");

  Catalog c = dir.read();
  CHECK(names_of(c) == std::vector<std::string>{damaged, good, garbage});
  const ArchiveInfo& d = find(c, damaged);
  REQUIRE(d.error);
  // The error says what is wrong; the name stands beside it already.
  CHECK(d.error->find(damaged) == std::string::npos);
  CHECK_FALSE(d.error->empty());
  CHECK_FALSE(d.manifest);
  CHECK(d.time == utc(2026, 6, 1));
  CHECK(d.created == "2026-06-01T12:00:00Z");
  CHECK(d.version == "10.11.1");
  CHECK(d.size == 40);
  REQUIRE(find(c, garbage).error);
  CHECK(find(c, garbage).error->find("not a zstd-compressed file") != std::string::npos);
  CHECK_FALSE(find(c, good).error);
}

TEST_CASE("catalog: sidecar states", "[catalog]") {
  BackupDir dir;
  const std::string& bytes = archive_v1011();
  const std::int64_t t0 = utc(2026, 8, 1, 12, 0, 0);

  const auto matches = dir.put_archive(utc(2026, 1, 1), "1");
  dir.put_sidecar(matches, bytes);
  set_mtime(dir.tmp / matches, t0);
  set_mtime(dir.tmp / jb::sidecar_name(matches), t0 + 10);

  const auto same_time = dir.put_archive(utc(2026, 1, 2), "1");
  dir.put_sidecar(same_time, bytes);
  set_mtime(dir.tmp / same_time, t0, 500);
  set_mtime(dir.tmp / jb::sidecar_name(same_time), t0, 500);

  const auto stale = dir.put_archive(utc(2026, 1, 3), "1");
  dir.put_sidecar(stale, bytes);
  set_mtime(dir.tmp / stale, t0, 501);
  set_mtime(dir.tmp / jb::sidecar_name(stale), t0, 500);

  const auto missing = dir.put_archive(utc(2026, 1, 4), "1");

  const auto other_name = dir.put_archive(utc(2026, 1, 5), "1");
  dir.put(jb::sidecar_name(other_name), jb::format_sidecar(jb::Xxh128::hex_of(bytes), "x.tar.zst"));

  const auto garbage = dir.put_archive(utc(2026, 1, 6), "1");
  dir.put(jb::sidecar_name(garbage), "hello\n");

  const auto oversized = dir.put_archive(utc(2026, 1, 7), "1");
  dir.put(jb::sidecar_name(oversized),
          jb::format_sidecar(jb::Xxh128::hex_of(bytes), oversized) + std::string(5000, '\n'));

  const auto wrong_hash = dir.put_archive(utc(2026, 1, 8), "1");
  dir.put_sidecar(wrong_hash, bytes + "x");

  // The sidecar of a damaged archive is read like any other.
  const auto damaged = dir.put_archive(utc(2026, 1, 9), "1", "damaged");
  dir.put_sidecar(damaged, "damaged");

  // A sidecar whose archive is gone is no archive.
  dir.put_sidecar(archive_file_name(utc(2026, 1, 10), std::string("1")), bytes);

  Catalog c = dir.read();
  REQUIRE(c.archives.size() == 9);
  CHECK(find(c, matches).sidecar == SidecarState::kMatches);
  // A sidecar says the archive was written whole, not that it was checked.
  CHECK_FALSE(find(c, matches).verified());
  CHECK(find(c, matches).check == jb::CheckState::kNever);
  CHECK(find(c, same_time).sidecar == SidecarState::kMatches);
  CHECK(find(c, stale).sidecar == SidecarState::kStale);
  CHECK(find(c, missing).sidecar == SidecarState::kMissing);
  CHECK(find(c, other_name).sidecar == SidecarState::kInvalid);
  CHECK(find(c, garbage).sidecar == SidecarState::kInvalid);
  CHECK(find(c, oversized).sidecar == SidecarState::kInvalid);
  // Without --check a wrong hash is not noticed: nothing was hashed.
  CHECK(find(c, wrong_hash).sidecar == SidecarState::kMatches);
  CHECK(find(c, damaged).sidecar == SidecarState::kMatches);

  CatalogOptions check;
  check.check = true;
  check.parallel = 3;
  c = dir.read(check);
  CHECK(find(c, matches).sidecar == SidecarState::kMatches);
  CHECK(find(c, same_time).sidecar == SidecarState::kMatches);
  // The bytes still match: the archive was only touched.
  CHECK(find(c, stale).sidecar == SidecarState::kMatches);
  // --check is verify's check: an intact archive gets its sidecar (re)written
  // and is verified; a damaged one is damaged, whatever its sidecar says.
  CHECK(find(c, missing).sidecar == SidecarState::kMatches);
  CHECK(find(c, other_name).sidecar == SidecarState::kMatches);
  CHECK(find(c, wrong_hash).sidecar == SidecarState::kMatches);
  CHECK(find(c, wrong_hash).verified());
  CHECK(find(c, matches).verified());
  CHECK(find(c, damaged).sidecar == SidecarState::kMatches);  // it was damaged when the sidecar was made
  CHECK(find(c, damaged).damaged());
  CHECK_FALSE(find(c, damaged).verified());
  // And the findings are recorded: a plain listing knows them now.
  c = dir.read({});
  CHECK(find(c, wrong_hash).verified());

  CHECK(std::string(jb::sidecar_state_name(SidecarState::kStale)) == "stale");
  CHECK(std::string(jb::sidecar_state_name(SidecarState::kMismatch)) == "mismatch");
}

TEST_CASE("catalog: the sidecar create writes matches", "[catalog]") {
  TempDir tmp;
  jb::test::create_sample_archive(tmp.path(), std::nullopt);
  jb::Reporter silent;
  auto store = jb::open_store(jb::parse_location(tmp.path()));
  CatalogOptions check;
  check.check = true;
  Catalog c = jb::read_catalog(*store, check, silent);
  REQUIRE(c.archives.size() == 1);
  CHECK(c.archives[0].sidecar == SidecarState::kMatches);
}

TEST_CASE("catalog: the same result however many archives are read at once", "[catalog]") {
  BackupDir dir;
  for (int day = 1; day <= 20; ++day) {
    auto name = dir.put_archive(utc(2026, 1, day), day % 3 ? "10.10.7" : "10.11.0");
    if (day % 2) dir.put_sidecar(name, archive_v1011());
  }
  dir.put(archive_file_name(utc(2026, 2, 1), std::string("x")), "damaged");
  std::vector<std::string> expected;
  bool expected_checked = false;
  for (int parallel : {1, 2, 8, 64, 0}) {
    CatalogOptions options;
    options.parallel = parallel;
    options.check = parallel == 2;
    Catalog c = dir.read(options);
    REQUIRE(c.archives.size() == 21);
    if (expected.empty()) expected = names_of(c);
    CHECK(names_of(c) == expected);
    CHECK(c.archives[0].error);
    std::size_t verified = 0;
    for (const auto& a : c.archives) verified += a.sidecar == SidecarState::kMatches;
    // A check (parallel 2) writes the sidecars of the intact archives that had none.
    CHECK(verified == (parallel == 2 || expected_checked ? 20u : 10u));
    expected_checked = expected_checked || parallel == 2;
  }
}

TEST_CASE("catalog: an empty or missing directory", "[catalog]") {
  BackupDir dir;
  CHECK(dir.read().archives.empty());
  auto store = jb::open_store(jb::parse_location(dir.tmp / "missing"));
  RecordingReporter reporter;
  auto e = error_of([&] { jb::read_catalog(*store, {}, reporter); });
  CHECK(e.kind() == jb::ErrorKind::kUsage);
}

namespace {

// A store that fails to read one file, as a remote might.
class FailingOpenStore : public jb::test::ForwardingStore {
 public:
  FailingOpenStore(const jb::Store& inner, std::string name)
      : ForwardingStore(inner), name_(std::move(name)) {}
  std::unique_ptr<jb::Source> open(const std::string& name,
                                   std::optional<std::uint64_t> head) const override {
    if (name == name_) throw jb::io_error("rclone:x:" + name, "cannot read", EIO);
    return inner_.open(name, head);
  }

 private:
  std::string name_;
};

// A remote that fetches only `cut` bytes whenever a head is asked for:
// one whose first frame is larger than the head.
class ShortHeadStore : public jb::test::ForwardingStore {
 public:
  ShortHeadStore(const jb::Store& inner, std::size_t cut) : ForwardingStore(inner), cut_(cut) {}
  std::unique_ptr<jb::Source> open(const std::string& name,
                                   std::optional<std::uint64_t> head) const override {
    ++opens;
    if (!head) return inner_.open(name, head);
    ++head_opens;
    return std::make_unique<jb::test::StringSource>(
        jb::test::read_file(location().path + "/" + name).substr(0, cut_));
  }
  mutable std::atomic<int> opens{0}, head_opens{0};

 private:
  std::size_t cut_;
};

}  // namespace

TEST_CASE("catalog: a failing store fails the read, from any thread", "[catalog]") {
  BackupDir dir;
  std::string bad;
  for (int day = 1; day <= 12; ++day) {
    auto name = dir.put_archive(utc(2026, 1, day), "10.11.0");
    if (day == 7) bad = name;
  }
  FailingOpenStore store(*dir.store, bad);
  RecordingReporter reporter;
  CatalogOptions options;
  options.parallel = 4;
  auto e = error_of([&] { jb::read_catalog(store, options, reporter); });
  CHECK(e.kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(e.what()).find(bad) != std::string::npos);
}

TEST_CASE("catalog: a head too short for the manifest is read again in full", "[catalog]") {
  BackupDir dir;
  const auto name = dir.put_archive(utc(2026, 1, 1), "10.11.0");
  REQUIRE(archive_v1011().size() > 64 * 1024);
  const auto small = dir.put("jellyfin.20260102T000000Z_s.tar.zst", archive_v1011().substr(0, 60000));
  ShortHeadStore store(*dir.store, 100);
  RecordingReporter reporter;
  Catalog c = jb::read_catalog(store, {}, reporter);
  REQUIRE(c.archives.size() == 2);
  const ArchiveInfo& a = find(c, name);
  CHECK_FALSE(a.error);
  REQUIRE(a.manifest);
  CHECK(a.version == "10.11.0");
  // The one within the head size is not fetched again: the head was all of it.
  CHECK(find(c, small).error);
  CHECK(store.head_opens == 2);
  CHECK(store.opens == 3);
}

TEST_CASE("catalog: a remote directory reads like a local one", "[catalog][rclone]") {
  JB_SKIP_WITHOUT_RCLONE("the remote catalog");
  BackupDir dir;
  const auto a = dir.put_archive(utc(2026, 1, 1), "10.10.7");
  dir.put_sidecar(a, archive_v1011());
  const auto b = dir.put_archive(utc(2026, 1, 2), "10.11.0");
  dir.put_sidecar(b, archive_v1011() + "x");
  const auto damaged = dir.put_archive(utc(2026, 1, 3), "10.11.0", "damaged");
  dir.put("README", "x");
  dir.put("other.tar.zst", "x");
  jb::test::RcloneServer server(dir.tmp.path());
  auto store = jb::open_store(jb::parse_location(std::string("rclone:") + server.kRemote));
  RecordingReporter reporter;
  CatalogOptions options;
  options.check = true;
  Catalog c = jb::read_catalog(*store, options, reporter);
  REQUIRE(names_of(c) == std::vector<std::string>{damaged, b, a});
  CHECK(c.archives[0].error);
  CHECK(c.archives[1].version == "10.11.0");
  REQUIRE(c.archives[1].manifest);
  // Intact, with a wrong sidecar: verified, and the sidecar rewritten.
  CHECK(c.archives[1].sidecar == SidecarState::kMatches);
  CHECK(c.archives[1].verified());
  CHECK(c.archives[2].sidecar == SidecarState::kMatches);
  CHECK(c.archives[2].size == archive_v1011().size());

  // Without --check the remote's mtimes decide: the sidecar came after.
  c = jb::read_catalog(*store, {}, reporter);
  CHECK(c.archives[2].sidecar == SidecarState::kMatches);
  CHECK(c.archives[1].sidecar == SidecarState::kMatches);
}

// Reads every sidecar through read_small and counts how often the catalog
// fetched them all at once, like a remote (in no promised order: here
// backwards). Heads it leaves to be read one by one, like a local store.
class CountingStore : public jb::test::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::optional<std::string> read_concatenated(const std::vector<std::string>& names, std::optional<std::size_t> head,
                                               std::size_t max_total) const override {
    if (head) return std::nullopt;
    ++batches;
    std::string out;
    for (auto it = names.rbegin(); it != names.rend() && out.size() <= max_total; ++it)
      if (auto text = read_small(*it, jb::kMaxSidecarBytes)) out += *text;
    return out;
  }
  std::optional<std::string> read_small(const std::string& name, std::size_t max) const override {
    ++singles;
    return ForwardingStore::read_small(name, max);
  }
  mutable std::atomic<int> batches{0}, singles{0};
};

TEST_CASE("catalog: sidecars fetched together are told apart by what they say", "[catalog]") {
  BackupDir dir;
  const auto good1 = dir.put_archive(utc(2026, 1, 1), "10.10.7");
  dir.put_sidecar(good1, archive_v1011());
  const auto good2 = dir.put_archive(utc(2026, 1, 2), "10.11.0");
  dir.put_sidecar(good2, archive_v1011());
  // Garbage without a newline, glued to whatever comes next.
  const auto garbage = dir.put_archive(utc(2026, 1, 3), "10.11.0");
  dir.put(jb::sidecar_name(garbage), "not a sidecar at all");
  // A copy of good1's sidecar under another archive's name: it names good1,
  // so good1 is named twice and neither may be taken from the batch.
  const auto copied = dir.put_archive(utc(2026, 1, 4), "10.11.1");
  dir.put(jb::sidecar_name(copied), jb::test::read_file(dir.tmp / jb::sidecar_name(good1)));
  const auto none = dir.put_archive(utc(2026, 1, 5), "10.11.1");

  CountingStore counting(*dir.store);
  RecordingReporter reporter;
  Catalog c = jb::read_catalog(counting, {}, reporter);
  CHECK(counting.batches == 1);
  CHECK(find(c, good1).sidecar == SidecarState::kMatches);
  CHECK(find(c, good2).sidecar == SidecarState::kMatches);
  CHECK(find(c, garbage).sidecar == SidecarState::kInvalid);
  CHECK(find(c, copied).sidecar == SidecarState::kInvalid);
  CHECK(find(c, none).sidecar == SidecarState::kMissing);

  // Exactly what reading each one alone says.
  Catalog alone = dir.read();
  for (const auto& a : alone.archives) CHECK(find(c, a.name).sidecar == a.sidecar);
}

TEST_CASE("catalog: good sidecars cost one fetch together, none alone", "[catalog]") {
  BackupDir dir;
  for (int day = 1; day <= 5; ++day) {
    const auto a = dir.put_archive(utc(2026, 2, day), "10.11.0");
    dir.put_sidecar(a, archive_v1011());
  }
  CountingStore counting(*dir.store);
  RecordingReporter reporter;
  Catalog c = jb::read_catalog(counting, {}, reporter);
  CHECK(counting.batches == 1);
  CHECK(counting.singles == 5);  // the batch itself, through read_small; nothing after it
  for (const auto& a : c.archives) CHECK(a.sidecar == SidecarState::kMatches);
}

// Imitates a remote's reading of heads: those of several archives come in
// one run, in reverse order; every archive opened on its own is counted.
// Sidecars it leaves to be read one by one, like a local store.
class BatchingStore : public jb::test::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::optional<std::string> read_concatenated(const std::vector<std::string>& names, std::optional<std::size_t> head,
                                               std::size_t) const override {
    if (!head) return std::nullopt;
    ++runs;
    std::string out;
    for (auto it = names.rbegin(); it != names.rend(); ++it)
      out += jb::test::read_file(location().path + "/" + *it).substr(0, *head);
    return out;
  }
  std::unique_ptr<jb::Source> open(const std::string& name, std::optional<std::uint64_t> head) const override {
    ++opens;
    return ForwardingStore::open(name, head);
  }
  mutable std::atomic<int> runs{0}, opens{0};
};

// Exactly what reading each archive alone says.
void check_same_as_alone(const Catalog& c, BackupDir& dir) {
  Catalog alone = dir.read();
  REQUIRE(names_of(c) == names_of(alone));
  for (const auto& a : alone.archives) {
    INFO(a.name);
    const ArchiveInfo& b = find(c, a.name);
    CHECK(b.time == a.time);
    CHECK(b.version == a.version);
    CHECK(b.error == a.error);
    REQUIRE(b.manifest.has_value() == a.manifest.has_value());
    if (a.manifest) CHECK(b.manifest->serialize() == a.manifest->serialize());
  }
}

TEST_CASE("catalog: heads fetched together go to the archives whose names their manifests make", "[catalog]") {
  BackupDir dir;
  for (const char* version : {"10.10.7", "10.11.0", "10.11.1"}) create_archive_in(dir.tmp.path(), std::string(version));
  // Never fetched with the others: one shorter than a head, and a name
  // create does not make.
  const auto shorter = dir.put_archive(utc(2025, 1, 3), "10.9.0", "short");
  dir.put("mine.tar.zst", archive_v1011());

  BatchingStore batching(*dir.store);
  RecordingReporter reporter;
  Catalog c = jb::read_catalog(batching, {}, reporter);
  CHECK(batching.runs == 1);
  CHECK(batching.opens == 2);  // shorter and mine
  check_same_as_alone(c, dir);
  CHECK(find(c, shorter).error.has_value());
}

TEST_CASE("catalog: many heads come in several runs at once", "[catalog]") {
  BackupDir dir;
  for (int i = 0; i < 70; ++i) create_archive_in(dir.tmp.path(), "10.0." + std::to_string(i));
  BatchingStore batching(*dir.store);
  RecordingReporter reporter;
  Catalog c = jb::read_catalog(batching, {}, reporter);
  CHECK(batching.runs == 3);  // 32 + 32 + 6
  CHECK(batching.opens == 0);
  CHECK(c.archives.size() == 70);
  check_same_as_alone(c, dir);
}

TEST_CASE("catalog: a run of heads that does not add up is read archive by archive", "[catalog]") {
  BackupDir dir;
  std::vector<std::string> own;
  for (const char* version : {"10.10.7", "10.11.0"})
    own.push_back(std::filesystem::path(create_archive_in(dir.tmp.path(), std::string(version))).filename());
  std::string noise(100000, '\0');
  std::mt19937 rng(3);
  for (char& c : noise) c = static_cast<char>(rng());
  std::string copy;
  SECTION("a renamed copy: two heads name one archive") {
    copy = dir.put_archive(utc(2025, 1, 1), "10.9.0", jb::test::read_file(dir.tmp / own[0]));
  }
  SECTION("a damaged archive beside a good copy of it: the damage must show") {
    copy = dir.put_archive(utc(2025, 1, 1), "10.9.0", jb::test::read_file(dir.tmp / own[0]));
    std::string damaged = jb::test::read_file(dir.tmp / own[0]);
    damaged[0] ^= 0x55;  // no zstd frame any more
    write_file(dir.tmp / own[0], damaged);
  }
  SECTION("a damaged archive") {
    copy = dir.put_archive(utc(2025, 1, 2), "10.9.0", noise);
  }

  BatchingStore batching(*dir.store);
  RecordingReporter reporter;
  Catalog c = jb::read_catalog(batching, {}, reporter);
  CHECK(batching.runs == 1);
  CHECK(batching.opens == 3);  // all of them, each on its own
  check_same_as_alone(c, dir);
}

// Deletes an archive the moment the catalog opens it: a prune that ran
// between the listing and the read.
class VanishingStore : public jb::test::ForwardingStore {
 public:
  VanishingStore(const jb::Store& inner, std::string victim) : ForwardingStore(inner), victim_(std::move(victim)) {}
  std::unique_ptr<jb::Source> open(const std::string& name, std::optional<std::uint64_t> head) const override {
    if (name == victim_) inner_.remove(name);
    return ForwardingStore::open(name, head);
  }

 private:
  std::string victim_;
};

TEST_CASE("catalog: an archive deleted since the listing is not listed, nor an error", "[catalog]") {
  BackupDir dir;
  const auto kept = dir.put_archive(utc(2026, 3, 1), "10.11.0");
  const auto gone = dir.put_archive(utc(2026, 3, 2), "10.11.0");
  VanishingStore store(*dir.store, gone);
  RecordingReporter reporter;
  Catalog c = jb::read_catalog(store, {}, reporter);
  CHECK(names_of(c) == std::vector<std::string>{kept});
}

TEST_CASE("future_date: by name or by manifest, past a day of slack", "[catalog]") {
  const std::int64_t now = utc(2026, 6, 1);
  ArchiveInfo a;
  a.name = archive_file_name(utc(2026, 6, 2, 11), "10.11.0");  // 23 hours ahead: slack
  CHECK_FALSE(jb::future_date(a, now));
  a.name = archive_file_name(utc(2099, 1, 1), "10.11.0");
  CHECK(jb::future_date(a, now) == utc(2099, 1, 1));
  // Not a generated name: only the manifest's date counts.
  a.name = "copy.tar.zst";
  CHECK_FALSE(jb::future_date(a, now));
  a.manifest.emplace();
  a.manifest->created = "2098-05-01T00:00:00Z";
  CHECK(jb::future_date(a, now) == utc(2098, 5, 1, 0));
  // Both: the later one is reported.
  a.name = archive_file_name(utc(2099, 1, 1), "10.11.0");
  CHECK(jb::future_date(a, now) == utc(2099, 1, 1));
  a.manifest->created = "2026-05-31T00:00:00Z";
  a.name = archive_file_name(utc(2026, 5, 31), "10.11.0");
  CHECK_FALSE(jb::future_date(a, now));
}

TEST_CASE("catalog: what a check record says, only about the file it was written for", "[catalog]") {
  BackupDir dir;
  const std::string good = dir.put_archive(utc(2026, 3, 1), "10.11.0");
  const std::string bad = dir.put_archive(utc(2026, 3, 2), "10.11.0");
  const std::string changed = dir.put_archive(utc(2026, 3, 3), "10.11.0");
  const std::string foreign = dir.put_archive(utc(2026, 3, 4), "10.11.0");
  for (const auto& n : {good, changed, foreign}) dir.put_sidecar(n, archive_v1011());
  auto stat_of = [&](const std::string& n) { return *dir.store->stat(n); };
  const std::string hex = jb::Xxh128::hex_of(archive_v1011());
  jb::write_check_record(*dir.store, jb::make_check_record(stat_of(good), true, hex));
  jb::write_check_record(*dir.store, jb::make_check_record(stat_of(bad), false, hex, "frame 2: checksum", 2));
  jb::write_check_record(*dir.store, jb::make_check_record(stat_of(changed), true, hex));
  // Then a byte of it changes, its mtime put back: the ctime still tells.
  {
    std::string bytes = archive_v1011();
    bytes[bytes.size() / 2] ^= 0x55;
    const auto before = stat_of(changed);
    write_file(dir.tmp / changed, bytes);
    set_mtime(dir.tmp / changed, before.mtime, before.mtime_nsec);
  }
  // A record copied from another archive names that one: it binds nothing.
  dir.put(jb::check_record_name(foreign), jb::format_check_record(jb::make_check_record(stat_of(good), true, hex)));

  const Catalog c = dir.read();
  CHECK(find(c, good).check == jb::CheckState::kChecked);
  CHECK(find(c, good).verified());
  CHECK(find(c, good).checked_at > 0);
  CHECK(find(c, bad).check == jb::CheckState::kDamaged);
  CHECK(find(c, bad).damaged());
  CHECK(find(c, bad).damage == std::optional<std::string>("frame 2: checksum"));
  CHECK(find(c, changed).check == jb::CheckState::kChanged);
  CHECK_FALSE(find(c, changed).verified());
  CHECK_FALSE(find(c, changed).damaged());
  CHECK(find(c, foreign).check == jb::CheckState::kChanged);
  // A check record is no archive.
  CHECK(c.archives.size() == 4);
}
