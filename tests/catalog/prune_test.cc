#include "jellyfin_backup/catalog/prune.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <set>

#include <zstd.h>

#include "jellyfin_backup/archive/sidecar.h"
#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/create/create.h"
#include "jellyfin_backup/io/location.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/utc_time.h"
#include "test_util.h"

using jb::archive_file_name;
using jb::PruneOptions;
using jb::PruneResult;
using jb::test::error_of;
using jb::test::make_dirs;
using jb::test::RecordingReporter;
using jb::test::TempDir;
using jb::test::write_file;
using jb::test::utc;

namespace {

// Noon UTC: the same calendar day in any zone a test machine is likely in.
std::int64_t day(int y, int mo, int d) {
  return utc(y, mo, d);
}

const std::string& sample_archive() {
  static const std::string bytes = [] {
    TempDir tmp;
    return jb::test::read_file(jb::test::create_sample_archive(tmp.path(), std::string("10.11.0")));
  }();
  return bytes;
}

// sample_archive() with its manifest edited: frame 1 (the manifest alone)
// decompressed, `edit` applied (it must keep the size, so the tar header
// stays right), and compressed again with its checksum. Only the catalog's
// reading of the manifest is fooled; a full verify would see the change.
std::string with_manifest_edited(const std::function<void(std::string& tar)>& edit) {
  const std::string& bytes = sample_archive();
  const std::size_t frame1 = ZSTD_findFrameCompressedSize(bytes.data(), bytes.size());
  REQUIRE_FALSE(ZSTD_isError(frame1));
  std::string tar(1 << 20, '\0');  // the frame does not record its size; a manifest is small
  const std::size_t size = ZSTD_decompress(tar.data(), tar.size(), bytes.data(), frame1);
  REQUIRE_FALSE(ZSTD_isError(size));
  tar.resize(size);
  edit(tar);
  REQUIRE(tar.size() == size);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string frame(ZSTD_compressBound(tar.size()), '\0');
  const std::size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), tar.data(), tar.size());
  ZSTD_freeCCtx(cctx);
  REQUIRE_FALSE(ZSTD_isError(n));
  frame.resize(n);
  return frame + bytes.substr(frame1);
}

// The value of `"key": "..."` in the manifest, replaced by `value` (as long).
std::string with_manifest_string(const std::string& key, const std::string& value) {
  return with_manifest_edited([&](std::string& tar) {
    const std::string field = "\"" + key + "\": \"";
    const auto at = tar.find(field);
    REQUIRE(at != std::string::npos);
    const auto end = tar.find('"', at + field.size());
    REQUIRE(end - at - field.size() == value.size());
    tar.replace(at + field.size(), value.size(), value);
  });
}

// sample_archive() as made on another host: its host replaced by as many 'x'.
std::string archive_of_other_host() {
  return with_manifest_edited([](std::string& tar) {
    const std::string key = "\"host\": \"";
    const auto at = tar.find(key);
    REQUIRE(at != std::string::npos);
    const auto end = tar.find('"', at + key.size());
    std::fill(tar.begin() + static_cast<std::ptrdiff_t>(at + key.size()),
              tar.begin() + static_cast<std::ptrdiff_t>(end), 'x');
  });
}

struct BackupDir {
  TempDir tmp;
  std::unique_ptr<jb::Store> store = jb::open_store(jb::parse_location(tmp.path()));

  // An archive and its sidecar.
  std::string add(std::int64_t t, const std::string& version,
                  const std::string& bytes = sample_archive()) {
    const std::string name = archive_file_name(t, version);
    write_file(tmp / name, bytes);
    write_file(tmp / jb::sidecar_name(name), jb::format_sidecar(jb::Xxh128::hex_of(bytes), name));
    return name;
  }
  std::set<std::string> files() const {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path()))
      names.insert(e.path().filename().string());
    return names;
  }
  bool has(const std::string& name) const { return files().count(name) > 0; }
};

PruneResult prune(const jb::Store& store, const jb::RetentionPolicy& policy, bool dry_run = false) {
  PruneOptions options;
  options.policy = policy;
  options.dry_run = dry_run;
  RecordingReporter reporter;
  return jb::prune_store(store, options, reporter);
}

jb::RetentionPolicy keep_last(int n) {
  jb::RetentionPolicy p;
  p.last = n;
  return p;
}

// A store whose list() must never be called.
class UntouchableStore : public jb::test::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::vector<jb::StoredFile> list() const override { FAIL("the store was listed"); return {}; }
  void remove(const std::string&) const override { FAIL("something was removed"); }
};

// A store that cannot delete some files.
class FailingRemoveStore : public jb::test::ForwardingStore {
 public:
  FailingRemoveStore(const jb::Store& inner, std::set<std::string> fail)
      : ForwardingStore(inner), fail_(std::move(fail)) {}
  void remove(const std::string& name) const override {
    if (fail_.count(name)) throw jb::io_error(name, "cannot delete", EACCES);
    inner_.remove(name);
  }

 private:
  std::set<std::string> fail_;
};

}  // namespace

TEST_CASE("prune: an empty policy deletes nothing and touches nothing", "[prune]") {
  BackupDir dir;
  dir.add(day(2026, 1, 1), "10.11.0");
  dir.add(day(2026, 1, 2), "10.11.0");
  const auto before = dir.files();
  UntouchableStore store(*dir.store);
  auto e = error_of([&] { prune(store, {}); });
  CHECK(e.kind() == jb::ErrorKind::kUsage);
  CHECK(std::string(e.what()) == "no --keep-* policy given: nothing was deleted");
  CHECK(e.hint().find("--keep-last") != std::string::npos);
  CHECK(dir.files() == before);
}

TEST_CASE("prune: removes what the policy does not keep, with the sidecars", "[prune]") {
  BackupDir dir;
  std::vector<std::string> names;
  for (int d = 1; d <= 5; ++d) names.push_back(dir.add(day(2026, 1, d), "10.11.0"));
  write_file(dir.tmp / "README", "hi\n");
  write_file(dir.tmp / "foo.tar.gz", sample_archive());
  write_file(dir.tmp / ".x.tar.zst", sample_archive());
  write_file(dir.tmp / "other.tar.zst", "not ours");
  make_dirs(dir.tmp / "x.tar.zst");

  PruneResult r = prune(*dir.store, keep_last(2));
  REQUIRE(r.archives.size() == 5);
  CHECK(r.unreadable.empty());
  CHECK_FALSE(r.failed());
  // Newest first.
  CHECK(r.archives[0].info.name == names[4]);
  CHECK(r.archives[0].keep);
  CHECK(r.archives[0].reasons == std::vector<std::string>{"last"});
  CHECK(r.archives[1].keep);
  for (int i = 2; i < 5; ++i) {
    CHECK_FALSE(r.archives[i].keep);
    CHECK(r.archives[i].removed);
    CHECK(r.archives[i].error.empty());
    CHECK(r.archives[i].reasons.empty());
  }
  CHECK(r.freed_bytes == 3 * sample_archive().size());

  CHECK(dir.files() == std::set<std::string>{names[3], jb::sidecar_name(names[3]), names[4],
                                             jb::sidecar_name(names[4]), "README", "foo.tar.gz",
                                             ".x.tar.zst", "other.tar.zst", "x.tar.zst"});
}

TEST_CASE("prune: --dry-run removes nothing but says what it would", "[prune]") {
  BackupDir dir;
  for (int d = 1; d <= 4; ++d) dir.add(day(2026, 2, d), "10.11.0");
  const auto before = dir.files();
  PruneResult r = prune(*dir.store, keep_last(1), /*dry_run=*/true);
  CHECK(dir.files() == before);
  REQUIRE(r.archives.size() == 4);
  CHECK(std::count_if(r.archives.begin(), r.archives.end(), [](auto& a) { return a.keep; }) == 1);
  for (const auto& a : r.archives) CHECK_FALSE(a.removed);
  CHECK(r.freed_bytes == 3 * sample_archive().size());
  CHECK_FALSE(r.failed());
}

TEST_CASE("prune: unreadable archives are reported and never removed", "[prune]") {
  BackupDir dir;
  const auto old_damaged = dir.add(day(2025, 1, 1), "10.10.0", "truncated");
  const auto a = dir.add(day(2026, 1, 1), "10.11.0");
  const auto b = dir.add(day(2026, 1, 2), "10.11.0");
  const auto new_damaged = dir.add(day(2026, 1, 3), "10.11.0", sample_archive().substr(0, 50));

  PruneResult r = prune(*dir.store, keep_last(1));
  REQUIRE(r.unreadable.size() == 2);
  CHECK(r.unreadable[0].name == new_damaged);
  CHECK(r.unreadable[1].name == old_damaged);
  CHECK(r.unreadable[0].error);
  // The newest readable archive counts as the newest: a damaged newer one
  // does not make it deletable.
  REQUIRE(r.archives.size() == 2);
  CHECK(r.archives[0].info.name == b);
  CHECK(r.archives[0].keep);
  CHECK_FALSE(r.archives[1].keep);
  CHECK(r.archives[1].removed);
  CHECK(dir.has(old_damaged));
  CHECK(dir.has(new_damaged));
  CHECK(dir.has(jb::sidecar_name(old_damaged)));
  CHECK(dir.has(b));
  CHECK_FALSE(dir.has(a));
  CHECK_FALSE(dir.has(jb::sidecar_name(a)));
}

TEST_CASE("prune: --keep-version-change keeps the newest archive of each version", "[prune]") {
  BackupDir dir;
  std::vector<std::string> v1010, v1011;
  for (int d = 1; d <= 3; ++d) v1010.push_back(dir.add(day(2026, 3, d), "10.10.7"));
  for (int d = 4; d <= 6; ++d) v1011.push_back(dir.add(day(2026, 3, d), "10.11.0"));
  jb::RetentionPolicy policy;
  policy.version_change = true;
  PruneResult r = prune(*dir.store, policy);
  REQUIRE(r.archives.size() == 6);
  CHECK(r.archives[0].info.name == v1011[2]);
  CHECK(r.archives[0].reasons == std::vector<std::string>{"version 10.11.0"});
  CHECK(r.archives[3].info.name == v1010[2]);
  CHECK(r.archives[3].reasons == std::vector<std::string>{"version 10.10.7"});
  CHECK(dir.files() == std::set<std::string>{v1010[2], jb::sidecar_name(v1010[2]), v1011[2],
                                             jb::sidecar_name(v1011[2])});
}

TEST_CASE("prune: the newest archive is never removed", "[prune]") {
  BackupDir dir;
  const auto versioned = dir.add(day(2026, 4, 1), "10.11.0");
  // A generated name with "unknown" and a manifest that names no version.
  TempDir src;
  jb::test::make_sample_trees(src.path());
  const auto newest = dir.add(day(2026, 4, 2), "unknown", jb::test::archive_bytes_of(src.path()));
  jb::RetentionPolicy policy;
  policy.version_change = true;
  PruneResult r = prune(*dir.store, policy);
  REQUIRE(r.archives.size() == 2);
  CHECK(r.archives[0].info.name == newest);
  CHECK(r.archives[0].keep);
  CHECK(r.archives[0].reasons == std::vector<std::string>{"newest"});
  CHECK(r.archives[1].keep);
  CHECK(dir.has(newest));
  CHECK(dir.has(versioned));
}

TEST_CASE("prune: a failing deletion is recorded and the rest go on", "[prune]") {
  BackupDir dir;
  std::vector<std::string> names;
  for (int d = 1; d <= 5; ++d) names.push_back(dir.add(day(2026, 5, d), "10.11.0"));
  // names[1]'s archive cannot be removed; names[2]'s sidecar cannot.
  FailingRemoveStore store(*dir.store, {names[1], jb::sidecar_name(names[2])});
  RecordingReporter reporter;
  jb::PruneOptions options;
  options.policy = keep_last(2);
  PruneResult r = jb::prune_store(store, options, reporter);
  CHECK(r.failed());
  REQUIRE(r.archives.size() == 5);
  const auto& blocked = r.archives[3];
  CHECK(blocked.info.name == names[1]);
  CHECK_FALSE(blocked.removed);
  CHECK(blocked.error.find("cannot delete") != std::string::npos);
  const auto& half = r.archives[2];
  CHECK(half.info.name == names[2]);
  CHECK(half.removed);
  // Its archive is gone: the sidecar left behind is a warning, and the next
  // prune removes it.
  CHECK(half.error.empty());
  REQUIRE(reporter.warnings.size() == 1);
  CHECK(reporter.warnings[0].find(jb::sidecar_name(names[2])) != std::string::npos);
  CHECK(r.archives[4].removed);
  CHECK(r.archives[4].error.empty());
  CHECK(r.freed_bytes == 2 * sample_archive().size());

  CHECK(dir.has(names[1]));
  CHECK(dir.has(jb::sidecar_name(names[1])));
  CHECK_FALSE(dir.has(names[2]));
  CHECK(dir.has(jb::sidecar_name(names[2])));
  CHECK_FALSE(dir.has(names[0]));

  // The next prune, with nothing in the way, removes that leftover sidecar.
  PruneResult again = prune(*dir.store, keep_last(2));
  CHECK_FALSE(dir.has(jb::sidecar_name(names[2])));
  CHECK(std::count(again.orphan_sidecars.begin(), again.orphan_sidecars.end(), jb::sidecar_name(names[2])) == 1);
}

TEST_CASE("prune: a sidecar is only an orphan when it is ours and nothing is under its archive's name", "[prune]") {
  BackupDir dir;
  const auto kept = dir.add(day(2026, 6, 1), "10.11.0");
  const std::string hex(32, 'a');
  const std::string gone = "jellyfin.20260101T000000Z_10.10.7.tar.zst";
  write_file(dir.tmp / jb::sidecar_name(gone), jb::format_sidecar(hex, gone));
  // Not ours: a name create does not make, a sidecar-looking name whose
  // content is no sidecar (or names another file), and the sidecar of an
  // archive that list leaves out (a symlink, a directory) but that is there.
  write_file(dir.tmp / "mine.tar.zst.xxh128", jb::format_sidecar(hex, "mine.tar.zst"));
  const std::string junk = "jellyfin.20260102T000000Z_10.10.7.tar.zst";
  write_file(dir.tmp / jb::sidecar_name(junk), "x\n");
  const std::string other = "jellyfin.20260103T000000Z_10.10.7.tar.zst";
  write_file(dir.tmp / jb::sidecar_name(other), jb::format_sidecar(hex, "something-else.tar.zst"));
  const std::string linked = "jellyfin.20260104T000000Z_10.10.7.tar.zst";
  write_file(dir.tmp / "elsewhere.bin", "the archive, kept elsewhere");
  REQUIRE(::symlink((dir.tmp / "elsewhere.bin").c_str(), (dir.tmp / linked).c_str()) == 0);
  write_file(dir.tmp / jb::sidecar_name(linked), jb::format_sidecar(hex, linked));
  const std::string as_dir = "jellyfin.20260105T000000Z_10.10.7.tar.zst";
  make_dirs(dir.tmp / as_dir);
  write_file(dir.tmp / jb::sidecar_name(as_dir), jb::format_sidecar(hex, as_dir));

  PruneResult dry = prune(*dir.store, keep_last(1), /*dry_run=*/true);
  CHECK(dry.orphan_sidecars == std::vector<std::string>{jb::sidecar_name(gone)});
  CHECK(dir.has(jb::sidecar_name(gone)));
  PruneResult r = prune(*dir.store, keep_last(1));
  CHECK(r.orphan_sidecars == dry.orphan_sidecars);
  CHECK_FALSE(dir.has(jb::sidecar_name(gone)));
  for (const std::string& name : {std::string("mine.tar.zst"), junk, other, linked, as_dir})
    CHECK(dir.has(jb::sidecar_name(name)));
  CHECK(dir.has(kept));
  CHECK(dir.has(jb::sidecar_name(kept)));
}

// A store that cannot read one file.
class UnreadableStore : public jb::test::ForwardingStore {
 public:
  UnreadableStore(const jb::Store& inner, std::string name) : ForwardingStore(inner), name_(std::move(name)) {}
  std::optional<std::string> read_small(const std::string& name, std::size_t max) const override {
    if (name == name_) throw jb::io_error(name, "cannot read", EACCES);
    return ForwardingStore::read_small(name, max);
  }

 private:
  std::string name_;
};

TEST_CASE("prune: a stray sidecar that cannot be read is a warning, not a failed prune", "[prune]") {
  BackupDir dir;
  const auto old = dir.add(day(2026, 6, 1), "10.11.0");
  const auto kept = dir.add(day(2026, 6, 2), "10.11.0");
  const std::string stray = jb::sidecar_name("jellyfin.20260101T000000Z_10.10.7.tar.zst");
  write_file(dir.tmp / stray, jb::format_sidecar(std::string(32, 'a'), "jellyfin.20260101T000000Z_10.10.7.tar.zst"));
  UnreadableStore store(*dir.store, stray);
  RecordingReporter reporter;
  PruneOptions options;
  options.policy = keep_last(1);
  PruneResult r = jb::prune_store(store, options, reporter);
  CHECK_FALSE(r.failed());
  CHECK(r.orphan_sidecars.empty());
  CHECK_FALSE(dir.has(old));
  CHECK(dir.has(kept));
  CHECK(dir.has(stray));
  REQUIRE(reporter.warnings.size() == 1);
  CHECK(reporter.warnings[0].find(stray) != std::string::npos);
}

TEST_CASE("prune: archives of different hosts are judged apart", "[prune]") {
  BackupDir dir;
  // Two servers back up into one directory; host b's archives are older.
  const std::string a = dir.add(day(2026, 7, 3), "10.11.0");
  const std::string b1 = dir.add(day(2026, 7, 1), "10.11.0", archive_of_other_host());
  const std::string b2 = dir.add(day(2026, 7, 2), "10.11.0", archive_of_other_host());
  PruneResult r = prune(*dir.store, keep_last(1));
  CHECK(r.hosts.size() == 2);
  CHECK(dir.has(a));
  CHECK(dir.has(b2));  // b's newest, although a's is newer still
  CHECK_FALSE(dir.has(b1));
}

TEST_CASE("prune: with group_by_host off, all hosts' archives are judged together", "[prune]") {
  BackupDir dir;
  // Host names that never repeat (throwaway containers): one group all the same.
  const std::string a = dir.add(day(2026, 7, 3), "10.11.0");
  const std::string b1 = dir.add(day(2026, 7, 1), "10.11.0", archive_of_other_host());
  const std::string b2 = dir.add(day(2026, 7, 2), "10.11.0", archive_of_other_host());
  PruneOptions options;
  options.policy = keep_last(1);
  options.group_by_host = false;
  RecordingReporter reporter;
  PruneResult r = jb::prune_store(*dir.store, options, reporter);
  CHECK(r.hosts.size() == 2);
  CHECK(dir.has(a));
  CHECK_FALSE(dir.has(b1));
  CHECK_FALSE(dir.has(b2));
}

TEST_CASE("prune: daily rules over real archives", "[prune]") {
  // Days are local days; 11:00 and 13:00 UTC must share one.
  const char* old_tz = std::getenv("TZ");
  const std::string saved = old_tz ? old_tz : "";
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  struct Restore {
    bool had;
    std::string value;
    ~Restore() {
      if (had) ::setenv("TZ", value.c_str(), 1);
      else ::unsetenv("TZ");
      ::tzset();
    }
  } restore{old_tz != nullptr, saved};
  BackupDir dir;
  // Two archives a day for four days; --keep-daily 2 keeps the newest of the
  // two newest days.
  std::vector<std::string> names;
  for (int d = 1; d <= 4; ++d) {
    names.push_back(dir.add(day(2026, 6, d) - 3600, "10.11.0"));
    names.push_back(dir.add(day(2026, 6, d) + 3600, "10.11.0"));
  }
  jb::RetentionPolicy policy;
  policy.daily = 2;
  PruneResult r = prune(*dir.store, policy);
  std::set<std::string> kept;
  for (const auto& a : r.archives)
    if (a.keep) kept.insert(a.info.name);
  CHECK(kept == std::set<std::string>{names[7], names[5]});
  CHECK(dir.files() == std::set<std::string>{names[7], jb::sidecar_name(names[7]), names[5],
                                             jb::sidecar_name(names[5])});
}

TEST_CASE("prune: an empty directory", "[prune]") {
  BackupDir dir;
  PruneResult r = prune(*dir.store, keep_last(1));
  CHECK(r.archives.empty());
  CHECK(r.unreadable.empty());
  CHECK(r.freed_bytes == 0);
  CHECK_FALSE(r.failed());
}

TEST_CASE("prune: archives dated in the future never fill a keep slot", "[prune]") {
  // Three tiny fakes "from 2099" beside real archives once made
  // --keep-daily 3 plan to delete every real one.
  BackupDir dir;
  std::vector<std::string> real;
  for (int d = 1; d <= 5; ++d) real.push_back(dir.add(day(2026, 6, d), "10.11.0"));
  std::vector<std::string> fakes;
  for (int d = 1; d <= 3; ++d) fakes.push_back(dir.add(day(2099, 1, d), "10.11.0"));
  // A generated name of today, but a manifest that says 2099: its manifest
  // is as much a date as its name.
  const std::string created_2099 = dir.add(
      day(2026, 6, 6), "10.11.0", with_manifest_string("created", "2099-01-04T12:00:00Z"));

  jb::RetentionPolicy policy;
  policy.daily = 3;
  PruneOptions options;
  options.policy = policy;  // `now`: the clock (the manifests were created today)
  RecordingReporter reporter;
  PruneResult r = jb::prune_store(*dir.store, options, reporter);

  // The policy decides over the real archives as if the fakes were not there.
  REQUIRE(r.archives.size() == 5);
  CHECK(r.archives[0].info.name == real[4]);
  CHECK(r.archives[0].reasons == std::vector<std::string>{"daily"});
  CHECK(r.archives[2].info.name == real[2]);
  CHECK(r.archives[2].keep);
  CHECK_FALSE(r.archives[3].keep);
  CHECK_FALSE(r.archives[4].keep);
  // The fakes are kept, reported with the date that is wrong, and judged not.
  REQUIRE(r.future.size() == 4);
  std::set<std::string> future;
  for (const auto& f : r.future) future.insert(f.info.name);
  CHECK(future == std::set<std::string>{fakes[0], fakes[1], fakes[2], created_2099});
  for (const auto& f : r.future)
    if (f.info.name == created_2099) CHECK(jb::utc_iso(f.date) == "2099-01-04T12:00:00Z");
  for (const auto& name : fakes) CHECK(dir.has(name));
  CHECK(dir.has(created_2099));
  for (int i : {2, 3, 4}) CHECK(dir.has(real[i]));
  CHECK_FALSE(dir.has(real[0]));
  CHECK_FALSE(dir.has(real[1]));
}

TEST_CASE("prune: a day of slack: an archive just ahead of the clock is judged as usual", "[prune]") {
  BackupDir dir;
  // The manifests say they were created now (sample_archive() is made by
  // this run); the names are what is ahead.
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  const auto older = dir.add(now - 24 * 3600, "10.11.0");
  // Twelve hours ahead: a clock a little off, or a zone mixed up.
  const auto ahead = dir.add(now + 12 * 3600, "10.11.0");
  PruneOptions options;
  options.policy = keep_last(1);
  options.now = now;
  RecordingReporter reporter;
  PruneResult r = jb::prune_store(*dir.store, options, reporter);
  CHECK(r.future.empty());
  REQUIRE(r.archives.size() == 2);
  CHECK(r.archives[0].info.name == ahead);
  CHECK(r.archives[0].keep);
  CHECK(r.archives[1].removed);
  CHECK_FALSE(dir.has(older));
}

TEST_CASE("prune: with only future-dated archives, nothing is judged and nothing removed", "[prune]") {
  BackupDir dir;
  const auto fake = dir.add(day(2099, 1, 1), "10.11.0");
  PruneOptions options;
  options.policy = keep_last(1);
  options.now = day(2026, 6, 2);
  RecordingReporter reporter;
  PruneResult r = jb::prune_store(*dir.store, options, reporter);
  CHECK(r.archives.empty());
  CHECK(r.hosts.empty());
  REQUIRE(r.future.size() == 1);
  CHECK(r.future[0].date == day(2099, 1, 1));
  CHECK(dir.has(fake));
}

TEST_CASE("prune: an archive with no date to believe is kept and reported, never judged", "[prune]") {
  // Not a generated name, and a manifest whose `created` is no time: it
  // would otherwise count as from 1970, the first to go.
  BackupDir dir;
  const auto real = dir.add(day(2026, 6, 1), "10.11.0");
  write_file(dir.tmp / "manual-copy.tar.zst", with_manifest_string("created", "not-a-time-at-all..."));
  PruneResult r = prune(*dir.store, keep_last(1));
  REQUIRE(r.unreadable.size() == 1);
  CHECK(r.unreadable[0].name == "manual-copy.tar.zst");
  CHECK_THAT(*r.unreadable[0].error, Catch::Contains("`created` is not a UTC time (not-a-time-at-all...)"));
  REQUIRE(r.archives.size() == 1);
  CHECK(r.archives[0].info.name == real);
  CHECK(dir.has("manual-copy.tar.zst"));
}
