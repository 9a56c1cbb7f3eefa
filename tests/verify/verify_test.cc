#include "jellyfin_backup/verify/verify.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "jellyfin_backup/archive/checksum_list.h"
#include "jellyfin_backup/archive/tar_writer.h"
#include "jellyfin_backup/archive/xxh128.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/pipeline/compress_stage.h"
#include "test_util.h"

using jb::test::archive_bytes_of;
using jb::test::make_sample_trees;
using jb::test::read_file;
using jb::test::RecordingReporter;
using jb::test::StringSink;
using jb::test::StringSource;
using jb::test::TempDir;

namespace {

// One sample archive for the whole file: building it is the slow part.
struct Sample {
  TempDir dir;
  std::string bytes;
  std::string tar;  // its decompressed content
  std::uint64_t file_bytes = 0;
};

std::string plain_decompress(const std::string& bytes, bool* ok = nullptr) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  std::string out, buf(1 << 16, '\0');
  std::size_t ret = 0;
  bool good = true;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(dctx.get(), &o, &in);
    if (ZSTD_isError(ret)) {
      good = false;
      break;
    }
    out.append(buf.data(), o.pos);
    if (o.pos == 0 && in.pos == in.size) break;
  }
  if (ret != 0) good = false;
  if (ok) *ok = good;
  return out;
}

const Sample& sample() {
  static const std::unique_ptr<Sample> s = [] {
    auto made = std::make_unique<Sample>();
    make_sample_trees(made->dir.path());
    made->bytes = archive_bytes_of(made->dir.path());
    made->tar = plain_decompress(made->bytes);
    for (const char* f : {"/config/system.xml", "/config/dlna/profile.xml",
                          "/data/data/jellyfin.db", "/data/data/device.txt",
                          "/data/metadata/library/ab/poster.jpg"})
      made->file_bytes += std::filesystem::file_size(made->dir.path() + f);
    return made;
  }();
  return *s;
}

jb::VerifyResult verify_bytes(std::string bytes, jb::EntryConsumer* consumer = nullptr,
                              std::size_t piece = 4096) {
  StringSource source(std::move(bytes), piece);
  RecordingReporter reporter;
  return jb::verify_archive(source, reporter, consumer);
}

// What an EntryConsumer was given.
struct SeenEntry {
  std::string path;
  unsigned type = 0;
  std::string hardlink, symlink;
  std::string data;
  bool ended = false;
};

class RecordingConsumer : public jb::EntryConsumer {
 public:
  void on_manifest(const jb::Manifest& m) override {
    REQUIRE(entries.empty());  // before any tree entry
    manifests.push_back(m);
  }
  void begin_entry(archive_entry* entry) override {
    REQUIRE((entries.empty() || entries.back().ended));
    SeenEntry e;
    e.path = archive_entry_pathname(entry);
    e.type = archive_entry_filetype(entry);
    if (const char* h = archive_entry_hardlink(entry)) e.hardlink = h;
    if (const char* s = archive_entry_symlink(entry)) e.symlink = s;
    entries.push_back(std::move(e));
  }
  void data(const jb::DataBlock& block) override {
    REQUIRE_FALSE(entries.empty());
    SeenEntry& e = entries.back();
    REQUIRE_FALSE(e.ended);
    REQUIRE(block.offset >= e.data.size());
    e.data.resize(block.offset, '\0');  // a hole reads as zeros
    e.data.append(block.bytes);
  }
  void end_entry() override {
    REQUIRE_FALSE(entries.empty());
    entries.back().ended = true;
  }
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.path);
    return out;
  }
  const SeenEntry* find(const std::string& path) const {
    for (const auto& e : entries)
      if (e.path == path) return &e;
    return nullptr;
  }
  std::vector<SeenEntry> entries;
  std::vector<jb::Manifest> manifests;
};

class ProgressReporter : public jb::Reporter {
 public:
  void progress(const jb::Progress& p) override {
    if (p.bytes_done < last_done) went_back = true;
    last_done = p.bytes_done;
    total = p.bytes_total;
    ++calls;
  }
  std::uint64_t last_done = 0, total = 0;
  int calls = 0;
  bool went_back = false;
};

// A Source that fails like a broken disk after `good` bytes.
class FailingSource : public jb::Source {
 public:
  FailingSource(std::string bytes, std::size_t good) : bytes_(std::move(bytes)), good_(good) {}
  std::size_t read(void* buffer, std::size_t size) override {
    if (pos_ >= good_) throw jb::Error(jb::ErrorKind::kRuntime, "input/output error (test)");
    std::size_t n = std::min({size, good_ - pos_, bytes_.size() - pos_});
    std::memcpy(buffer, bytes_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  const std::string& name() const override { return name_; }
  std::optional<std::uint64_t> size() const override { return bytes_.size(); }

 private:
  std::string bytes_;
  std::size_t good_, pos_ = 0;
  std::string name_ = "failing";
};

// A hand-made archive: manifest, then `items`, then a checksum list of every
// regular file (unless `checksums` is given).
struct Item {
  std::string path;
  char type = '-';        // '-', 'd', 'l' (symlink), 'h' (hardlink)
  std::string content;    // file data, or link target
};

std::string build_archive(const std::vector<Item>& items, std::uint64_t data_files,
                          std::uint64_t data_bytes, std::uint64_t data_entries,
                          std::optional<std::string> checksums = std::nullopt) {
  jb::Manifest m;
  m.format_version = 1;
  m.tool_version = "test";
  m.created = "2026-11-25T10:15:00Z";
  m.host = "test";
  m.trees = {{"config", "/c", 0, 0, 1}, {"data", "/d", data_files, data_bytes, data_entries}};
  m.compression_level = 3;
  m.frame_bytes = 16u << 20;
  const std::string manifest = m.serialize();
  std::string sums = jb::format_checksum_line(jb::Xxh128::hex_of(manifest), "MANIFEST.json");

  StringSink out;
  {
    jb::CompressStage stage(out, {});
    jb::TarWriter tar = jb::TarWriter::open(stage);
    tar.write_memory_file("MANIFEST.json", manifest, 1795601700);
    stage.end_frame();
    auto add = [&](const std::string& path, unsigned type, const std::string& content,
                   const char* hardlink, const char* symlink) {
      jb::ArchiveEntryPtr e(archive_entry_new());
      archive_entry_copy_pathname(e.get(), path.c_str());
      archive_entry_set_filetype(e.get(), type);
      archive_entry_set_perm(e.get(), type == AE_IFDIR ? 0755 : 0644);
      archive_entry_set_mtime(e.get(), 1795601700, 0);
      if (hardlink) archive_entry_copy_hardlink(e.get(), hardlink);
      if (symlink) archive_entry_copy_symlink(e.get(), symlink);
      archive_entry_set_size(e.get(), type == AE_IFREG && !hardlink
                                          ? static_cast<la_int64_t>(content.size())
                                          : 0);
      tar.write_header(e.get());
      if (type == AE_IFREG && !hardlink && !content.empty())
        tar.write_data(content.data(), content.size());
      tar.finish_entry();
    };
    add("config", AE_IFDIR, "", nullptr, nullptr);
    std::map<std::string, std::string> file_sums;
    for (const auto& item : items) {
      switch (item.type) {
        case 'd': add(item.path, AE_IFDIR, "", nullptr, nullptr); break;
        case 'l': add(item.path, AE_IFLNK, "", nullptr, item.content.c_str()); break;
        case 'h':
          add(item.path, AE_IFREG, "", item.content.c_str(), nullptr);
          sums += jb::format_checksum_line(file_sums[item.content], item.path);
          break;
        default:
          add(item.path, AE_IFREG, item.content, nullptr, nullptr);
          file_sums[item.path] = jb::Xxh128::hex_of(item.content);
          sums += jb::format_checksum_line(file_sums[item.path], item.path);
          break;
      }
    }
    tar.write_memory_file("CHECKSUMS.xxh128", checksums.value_or(sums), 1795601700);
    tar.close();
    stage.commit();
  }
  return out.bytes;
}

bool has_problem_for(const jb::VerifyResult& r, const std::string& path) {
  return std::any_of(r.problems.begin(), r.problems.end(),
                     [&](const jb::Problem& p) { return p.path == path; });
}

}  // namespace

TEST_CASE("verify: an intact archive is ok, with counts and manifest", "[verify]") {
  const Sample& s = sample();
  for (std::size_t piece : {std::size_t{1} << 20, std::size_t{4096}, std::size_t{7}}) {
    INFO("source pieces of " << piece);
    jb::VerifyResult r = verify_bytes(s.bytes, nullptr, piece);
    CHECK(r.ok());
    CHECK(r.problems.empty());
    CHECK(r.bad_entries == 0);
    CHECK(r.files == 6);  // 5 files + 1 hardlink
    CHECK(r.bytes == s.file_bytes);
    CHECK(r.entries == 17);  // MANIFEST.json, 4 in config, 11 in data, CHECKSUMS.xxh128
    CHECK(r.frames == 2);    // the manifest alone, then the rest
    CHECK(r.compressed_bytes == s.bytes.size());
    REQUIRE(r.manifest.has_value());
    CHECK(r.manifest->format_version == 1);
    REQUIRE(r.manifest->trees.size() == 2);
    CHECK(r.manifest->trees[0].name == "config");
    CHECK(r.manifest->trees[1].name == "data");
    CHECK(r.manifest->total_files() == 6);
    CHECK(r.manifest->total_bytes() == s.file_bytes);
    CHECK(r.manifest->trees[0].source.find(s.dir.path().substr(s.dir.path().rfind('/') + 1)) !=
          std::string::npos);
  }
}

TEST_CASE("verify: progress reports compressed bytes against the source size", "[verify]") {
  const Sample& s = sample();
  StringSource source(s.bytes, 100);
  ProgressReporter reporter;
  jb::VerifyResult r = jb::verify_archive(source, reporter);
  CHECK(r.ok());
  CHECK(reporter.calls > 0);
  CHECK(reporter.total == s.bytes.size());
  CHECK_FALSE(reporter.went_back);
  CHECK(reporter.last_done <= s.bytes.size());
}

TEST_CASE("verify: the EntryConsumer gets every tree entry of an intact archive with its data",
          "[verify]") {
  const Sample& s = sample();
  RecordingConsumer consumer;
  jb::VerifyResult r = verify_bytes(s.bytes, &consumer);
  CHECK(r.ok());
  // Tree entries only: MANIFEST.json comes through on_manifest, once, and
  // CHECKSUMS.xxh128 not at all.
  REQUIRE(consumer.entries.size() == r.entries - 2);
  for (const auto& e : consumer.entries) CHECK(e.ended);
  REQUIRE(consumer.manifests.size() == 1);
  REQUIRE(r.manifest);
  CHECK(consumer.manifests[0].to_json() == r.manifest->to_json());

  const auto paths = consumer.paths();
  CHECK(paths.front() == "config/");
  CHECK(paths.back() == "data/metadata/library/ab/poster.jpg");
  CHECK(std::set<std::string>(paths.begin(), paths.end()).size() == paths.size());
  CHECK(consumer.find("MANIFEST.json") == nullptr);
  CHECK(consumer.find("CHECKSUMS.xxh128") == nullptr);

  const std::string root = s.dir.path();
  for (const char* f : {"config/system.xml", "config/dlna/profile.xml", "data/data/jellyfin.db",
                        "data/data/device.txt", "data/metadata/library/ab/poster.jpg"}) {
    INFO(f);
    const SeenEntry* e = consumer.find(f);
    REQUIRE(e != nullptr);
    CHECK(e->type == AE_IFREG);
    CHECK(e->hardlink.empty());
    CHECK(e->data == read_file(root + "/" + f));
  }
  const SeenEntry* hard = consumer.find("data/metadata/device-hardlink");
  REQUIRE(hard != nullptr);
  CHECK(hard->hardlink == "data/data/device.txt");
  CHECK(hard->data.empty());
  const SeenEntry* sym = consumer.find("data/metadata/device-link");
  REQUIRE(sym != nullptr);
  CHECK(sym->type == AE_IFLNK);
  CHECK(sym->symlink == "../data/device.txt");
  const SeenEntry* dir = consumer.find("data/empty/");
  REQUIRE(dir != nullptr);
  CHECK(dir->type == AE_IFDIR);
}

TEST_CASE("verify: no manifest, no on_manifest", "[verify]") {
  RecordingConsumer consumer;
  jb::VerifyResult r = verify_bytes("not an archive", &consumer);
  CHECK_FALSE(r.ok());
  CHECK(consumer.manifests.empty());
  CHECK(consumer.entries.empty());
}

TEST_CASE("verify: a hand-made archive with the right sums is ok", "[verify]") {
  std::string bytes = build_archive({{"data", 'd', ""},
                                     {"data/a.txt", '-', "alpha"},
                                     {"data/b", 'h', "data/a.txt"},
                                     {"data/l", 'l', "a.txt"}},
                                    2, 5, 4);
  RecordingConsumer consumer;
  jb::VerifyResult r = verify_bytes(bytes, &consumer);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.path << ": " << p.problem);
  CHECK(r.ok());
  CHECK(r.files == 2);
  CHECK(r.bytes == 5);
  CHECK(consumer.paths() ==
        std::vector<std::string>{"config/", "data/", "data/a.txt", "data/b", "data/l"});
  CHECK(consumer.manifests.size() == 1);
}

TEST_CASE("verify: the EntryConsumer never sees rejected entries", "[verify]") {
  // Unsafe and out-of-place entries are rejected; the rest is passed on.
  std::string bytes = build_archive({{"data", 'd', ""},
                                     {"data/good.txt", '-', "good"},
                                     {"data/../evil", '-', "evil"},
                                     {"elsewhere/x", '-', "x"},
                                     {"data/good.txt", '-', "duplicate"},
                                     {"data//empty-component", '-', "e"},
                                     {"data/link-to-nothing", 'h', "data/missing"},
                                     {"data/etc", 'l', "/etc"},
                                     {"data/etc/cron.d/x", '-', "beneath a symlink"},
                                     {"data/after.txt", '-', "after"}},
                                    // Counts that do not stop reading (issue 11: more entries
                                    // or files than announced are refused at once).
                                    3, 9, 5);
  RecordingConsumer consumer;
  jb::VerifyResult r = verify_bytes(bytes, &consumer);
  CHECK_FALSE(r.ok());
  CHECK(r.bad_entries >= 5);
  CHECK(consumer.paths() ==
        std::vector<std::string>{"config/", "data/", "data/good.txt", "data/etc",
                                 "data/after.txt"});
  const SeenEntry* good = consumer.find("data/good.txt");
  REQUIRE(good != nullptr);
  CHECK(good->data == "good");  // not the duplicate's
  CHECK(consumer.find("data/after.txt")->data == "after");
  CHECK(has_problem_for(r, "data/../evil"));
  CHECK(has_problem_for(r, "elsewhere/x"));
  CHECK(has_problem_for(r, "data/link-to-nothing"));
  CHECK(has_problem_for(r, "data/etc/cron.d/x"));
  // Problems come in archive order.
  CHECK(std::is_sorted(r.problems.begin(), r.problems.end(),
                       [](const jb::Problem& a, const jb::Problem& b) {
                         return a.entry_index < b.entry_index;
                       }));
}

TEST_CASE("verify: a checksum mismatch is a problem of that entry", "[verify]") {
  std::string wrong_sums =
      jb::format_checksum_line(std::string(32, '0'), "data/a.txt");  // manifest sum missing too
  std::string bytes = build_archive({{"data", 'd', ""}, {"data/a.txt", '-', "alpha"}}, 1, 5, 2,
                                    wrong_sums);
  jb::VerifyResult r = verify_bytes(bytes);
  CHECK_FALSE(r.ok());
  REQUIRE(has_problem_for(r, "data/a.txt"));
  auto it = std::find_if(r.problems.begin(), r.problems.end(),
                         [](const jb::Problem& p) { return p.path == "data/a.txt"; });
  CHECK(it->expected == std::string(32, '0'));
  CHECK(it->actual == jb::Xxh128::hex_of("alpha"));
}

TEST_CASE("verify: counts differing from the manifest are problems", "[verify]") {
  std::string bytes =
      build_archive({{"data", 'd', ""}, {"data/a.txt", '-', "alpha"}}, 2, 5, 2);  // 2 files?
  jb::VerifyResult r = verify_bytes(bytes);
  CHECK_FALSE(r.ok());
  CHECK(r.files == 1);
}

TEST_CASE("verify: a flipped byte anywhere is damage, reported and not thrown", "[verify]") {
  const Sample& s = sample();
  const std::string& good = s.bytes;
  REQUIRE(good.size() > 100);
  std::size_t undetected = 0, thrown = 0;
  std::vector<std::size_t> undetected_at;
  // Every offset of frame 1 (the manifest) and every third one after it,
  // with a different bit pattern in turn: a sweep of all offsets times all
  // masks is too slow under the sanitizers.
  const std::size_t frame1 = ZSTD_findFrameCompressedSize(good.data(), good.size());
  REQUIRE_FALSE(ZSTD_isError(frame1));
  const unsigned char masks[] = {0xff, 0x01, 0x80, 0x10};
  {
    for (std::size_t offset = 0; offset < good.size(); offset += offset < frame1 + 8 ? 1 : 3) {
      const unsigned char mask = masks[offset % 4];
      std::string bad = good;
      bad[offset] = static_cast<char>(static_cast<unsigned char>(bad[offset]) ^ mask);
      try {
        jb::VerifyResult r = verify_bytes(bad);
        if (r.ok()) {
          // Only acceptable if the damage did not change a single byte of the
          // content (e.g. a window-size field made larger): zstd must decode
          // the damaged stream, checksums included, to the original tar.
          bool decodes = false;
          std::string content = plain_decompress(bad, &decodes);
          if (!decodes || content != s.tar) {
            ++undetected;
            undetected_at.push_back(offset);
          }
        } else {
          if (r.problems.empty()) ++undetected;
        }
      } catch (const std::exception& e) {
        ++thrown;
        UNSCOPED_INFO("offset " << offset << " mask " << int(mask) << ": threw " << e.what());
      }
    }
  }
  if (!undetected_at.empty()) UNSCOPED_INFO("first undetected flip at " << undetected_at.front());
  CHECK(thrown == 0);
  CHECK(undetected == 0);
}

TEST_CASE("verify: flips at chosen places are all caught", "[verify]") {
  const Sample& s = sample();
  const std::string& good = s.bytes;
  const std::size_t frame1 = ZSTD_findFrameCompressedSize(good.data(), good.size());
  REQUIRE_FALSE(ZSTD_isError(frame1));
  REQUIRE(frame1 < good.size());
  // The magic number, the middle and the checksum of frame 1, the magic of
  // frame 2, data in frame 2, its checksum (the last byte).
  for (std::size_t offset : {std::size_t{0}, frame1 / 2, frame1 - 1, frame1, frame1 + 20,
                             (frame1 + good.size()) / 2, good.size() - 3, good.size() - 1}) {
    INFO("offset " << offset << " of " << good.size());
    std::string bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x55);
    RecordingConsumer consumer;
    jb::VerifyResult r;
    REQUIRE_NOTHROW(r = verify_bytes(bad, &consumer));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.problems.empty());
    CHECK(r.bad_entries >= 1);
  }
}

TEST_CASE("verify: a truncated archive is damage, reported and not thrown", "[verify]") {
  const Sample& s = sample();
  const std::string& good = s.bytes;
  const std::size_t frame1 = ZSTD_findFrameCompressedSize(good.data(), good.size());
  REQUIRE_FALSE(ZSTD_isError(frame1));
  // Chosen cuts: nothing at all, inside the magic, inside frame 1, exactly at
  // the frame boundary (a clean zstd end, but no tar after the manifest),
  // inside frame 2, one byte short.
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, frame1 / 2, frame1, frame1 + 1,
                          (frame1 + good.size()) / 2, good.size() - 4, good.size() - 1}) {
    INFO("cut at " << cut << " of " << good.size());
    jb::VerifyResult r;
    REQUIRE_NOTHROW(r = verify_bytes(good.substr(0, cut)));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.problems.empty());
  }
  // And lengths all over the archive, too.
  std::size_t accepted = 0, thrown = 0;
  for (std::size_t cut = 0; cut < good.size(); cut += 5) {
    try {
      if (verify_bytes(good.substr(0, cut)).ok()) ++accepted;
    } catch (const std::exception& e) {
      ++thrown;
      UNSCOPED_INFO("cut " << cut << ": threw " << e.what());
    }
  }
  CHECK(accepted == 0);
  CHECK(thrown == 0);
}

TEST_CASE("verify: anything after the archive is damage", "[verify]") {
  const Sample& s = sample();
  SECTION("garbage") {
    jb::VerifyResult r = verify_bytes(s.bytes + "garbage");
    CHECK_FALSE(r.ok());
  }
  SECTION("a second archive") {
    jb::VerifyResult r = verify_bytes(s.bytes + s.bytes);
    CHECK_FALSE(r.ok());
  }
  SECTION("a zstd frame of non-zero data") {
    StringSink extra;
    {
      jb::CompressStage stage(extra, {});
      std::string junk(1024, 'j');
      stage.write(junk.data(), junk.size());
      stage.commit();
    }
    jb::VerifyResult r = verify_bytes(s.bytes + extra.bytes);
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("verify: input that is not an archive is reported, not thrown", "[verify]") {
  for (std::string bytes : {std::string(), std::string("hello, world\n"), std::string(4096, '\0'),
                            std::string("\x28\xb5\x2f\xfd", 4)}) {
    INFO("input of " << bytes.size() << " bytes");
    jb::VerifyResult r;
    REQUIRE_NOTHROW(r = verify_bytes(bytes));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.manifest.has_value());
  }
  // Valid zstd, but not a tar archive.
  StringSink not_tar;
  {
    jb::CompressStage stage(not_tar, {});
    std::string text(3000, 't');
    stage.write(text.data(), text.size());
    stage.commit();
  }
  jb::VerifyResult r;
  REQUIRE_NOTHROW(r = verify_bytes(not_tar.bytes));
  CHECK_FALSE(r.ok());
}

TEST_CASE("verify: an error of the source itself is thrown, not reported", "[verify]") {
  const Sample& s = sample();
  for (std::size_t good : {std::size_t{0}, std::size_t{100}, s.bytes.size() / 2}) {
    INFO("fails after " << good << " bytes");
    FailingSource source(s.bytes, good);
    RecordingReporter reporter;
    try {
      jb::verify_archive(source, reporter);
      FAIL("a failing source was not reported as an error");
    } catch (const jb::Error& e) {
      CHECK(e.kind() == jb::ErrorKind::kRuntime);
      CHECK(std::string(e.what()) == "input/output error (test)");
    }
  }
}

TEST_CASE("VerifyResult::damage names the entries and what of value they hit", "[verify]") {
  jb::VerifyResult r;
  r.manifest = jb::Manifest{};
  r.problems.push_back({0, "", "zstd frame 2 (at byte 9): content checksum mismatch", "", ""});
  for (int i = 0; i < 5; ++i)
    r.problems.push_back({static_cast<std::uint64_t>(i + 1), "data/metadata/" + std::to_string(i) + ".jpg",
                          "checksum mismatch", "a", "b"});
  r.bad_entries = 6;
  std::string line = r.damage("x.tar.zst");
  CHECK(line.find("x.tar.zst: zstd frame 2") == 0);
  CHECK(line.find("6 bad entries: data/metadata/0.jpg, data/metadata/1.jpg, data/metadata/2.jpg and 2 more") !=
        std::string::npos);
  CHECK(line.find("the config and the databases are intact") != std::string::npos);
  CHECK(r.damaged_paths().size() == 5);

  r.problems.push_back({7, "data/data/jellyfin.db-wal", "checksum mismatch", "a", "b"});
  CHECK(r.damage("x").find("DAMAGED: a database") != std::string::npos);
  r.problems.push_back({8, "config/system.xml", "checksum mismatch", "a", "b"});
  CHECK(r.damage("x").find("DAMAGED: the config and a database") != std::string::npos);

  // Reading stopped early: nothing is said to be intact.
  jb::VerifyResult cut;
  cut.manifest = jb::Manifest{};
  cut.read_to_end = false;
  cut.problems.push_back({0, "", "archive is truncated", "", ""});
  cut.bad_entries = 1;
  CHECK(cut.damage("x").find("intact") == std::string::npos);
}

TEST_CASE("verify: problems say their kind, and whether the damage is to contents only", "[verify]") {
  // A wrong sum: content damage, which restore --skip-damaged can restore around.
  std::string wrong_sums = jb::format_checksum_line(std::string(32, '0'), "data/a.txt");
  std::string bytes = build_archive({{"data", 'd', ""}, {"data/a.txt", '-', "alpha"}}, 1, 5, 2, wrong_sums);
  jb::VerifyResult r = verify_bytes(bytes);
  auto it = std::find_if(r.problems.begin(), r.problems.end(),
                         [](const jb::Problem& p) { return p.path == "data/a.txt"; });
  REQUIRE(it != r.problems.end());
  CHECK(it->kind == jb::ProblemKind::kContent);
  // (The manifest's own sum is missing from that list: content damage of MANIFEST.json.)
  CHECK(std::find(r.content_damaged().begin(), r.content_damaged().end(), "data/a.txt") != r.content_damaged().end());

  // Counts that differ: what missing content entails, not structure.
  jb::VerifyResult counts = verify_bytes(build_archive({{"data", 'd', ""}, {"data/a.txt", '-', "alpha"}}, 2, 5, 2));
  REQUIRE_FALSE(counts.ok());
  for (const auto& p : counts.problems) CHECK(p.kind == jb::ProblemKind::kCount);
  CHECK_FALSE(counts.content_damage_only());  // no file to leave out: nothing to skip

  // An unsafe entry is structure: never restored around.
  jb::VerifyResult unsafe = verify_bytes(build_archive({{"data", 'd', ""}, {"data/../x", '-', "x"}}, 1, 1, 2));
  REQUIRE_FALSE(unsafe.ok());
  CHECK_FALSE(unsafe.content_damage_only());

  // A damaged frame beside file damage, read to the end: contents only.
  jb::VerifyResult frame;
  frame.manifest = jb::Manifest{};
  frame.problems.push_back({0, "", "zstd frame 2: content checksum mismatch", "", "", jb::ProblemKind::kFrame});
  frame.problems.push_back({3, "data/x.jpg", "checksum mismatch", "a", "b", jb::ProblemKind::kContent});
  CHECK(frame.content_damage_only());
  CHECK(frame.content_damaged() == std::vector<std::string>{"data/x.jpg"});
  frame.read_to_end = false;
  CHECK_FALSE(frame.content_damage_only());
}
