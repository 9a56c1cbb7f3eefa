#include "jellyfin_backup/verify/inspect.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <random>
#include <zstd.h>

#include "jellyfin_backup/archive/tar_writer.h"
#include "jellyfin_backup/create/create.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/pipeline/compress_stage.h"
#include "test_util.h"

using jb::test::error_of;
using jb::test::make_dirs;
using jb::test::make_sample_trees;
using jb::test::read_file;
using jb::test::StringSink;
using jb::test::StringSource;
using jb::test::TempDir;
using jb::test::write_file;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Creates an archive of root/config + root/data with a server version.
std::string create_bytes(const std::string& root, const std::string& version = "10.11.0") {
  TempDir out;
  jb::CreateOptions options;
  options.config_dir = root + "/config";
  options.data_dir = root + "/data";
  options.output = out / "a.tar.zst";
  options.server_version = version;
  options.threads = 1;
  options.level = 1;
  jb::Reporter silent;
  jb::create_archive(options, silent);
  return read_file(options.output);
}

struct Sample {
  TempDir dir;
  std::string bytes;
};

const Sample& sample() {
  static const std::unique_ptr<Sample> s = [] {
    auto made = std::make_unique<Sample>();
    make_sample_trees(made->dir.path());
    REQUIRE(::mkfifo((made->dir / "data/data/fifo").c_str(), 0640) == 0);
    made->bytes = create_bytes(made->dir.path());
    return made;
  }();
  return *s;
}

// Counts what is read, and can deliver its bytes in pieces of any size; the
// first piece may have its own size (a pipe that has only part of the data).
class CountingSource : public jb::Source {
 public:
  CountingSource(std::string bytes, std::size_t piece, std::size_t first_piece = 0)
      : bytes_(std::move(bytes)), piece_(piece), first_piece_(first_piece) {}
  std::size_t read(void* buffer, std::size_t size) override {
    std::size_t limit = (reads == 0 && first_piece_ > 0) ? first_piece_ : piece_;
    std::size_t n = std::min({size, limit, bytes_.size() - pos_});
    std::memcpy(buffer, bytes_.data() + pos_, n);
    pos_ += n;
    ++reads;
    return n;
  }
  const std::string& name() const override { return name_; }
  std::optional<std::uint64_t> size() const override { return std::nullopt; }  // a pipe
  std::size_t bytes_read() const { return pos_; }
  int reads = 0;

 private:
  std::string bytes_;
  std::size_t piece_, first_piece_, pos_ = 0;
  std::string name_ = "pipe";
};

class FailingSource : public jb::Source {
 public:
  std::size_t read(void*, std::size_t) override {
    throw jb::Error(jb::ErrorKind::kRuntime, "input/output error (test)");
  }
  const std::string& name() const override { return name_; }
  std::optional<std::uint64_t> size() const override { return std::nullopt; }

 private:
  std::string name_ = "failing";
};

jb::Error inspect_error(std::string bytes, bool list = false) {
  StringSource source(std::move(bytes));
  try {
    jb::inspect_archive(source, list);
  } catch (const jb::Error& e) {
    return e;
  }
  FAIL("inspect_archive accepted it");
  return jb::Error(jb::ErrorKind::kRuntime, "unreachable");
}

// zstd of a tar stream whose entries are the given in-memory files.
std::string tar_zst_of(const std::vector<std::pair<std::string, std::string>>& files) {
  StringSink out;
  jb::CompressStage stage(out, {});
  jb::TarWriter tar = jb::TarWriter::open(stage);
  for (const auto& [path, content] : files) tar.write_memory_file(path, content, 1795601700);
  tar.close();
  stage.commit();
  return out.bytes;
}

std::size_t first_frame_size(const std::string& bytes) {
  std::size_t n = ZSTD_findFrameCompressedSize(bytes.data(), bytes.size());
  REQUIRE_FALSE(ZSTD_isError(n));
  return n;
}

}  // namespace

TEST_CASE("inspect: returns the manifest", "[inspect]") {
  const Sample& s = sample();
  StringSource source(s.bytes);
  jb::InspectResult r = jb::inspect_archive(source, false);
  CHECK(r.entries.empty());
  CHECK(r.archive_bytes == std::optional<std::uint64_t>(s.bytes.size()));
  const jb::Manifest& m = r.manifest;
  CHECK(m.format_version == 1);
  CHECK(m.app_version == std::optional<std::string>("10.11.0"));
  CHECK(m.compression_level == 1);
  CHECK(m.frame_bytes == 16u << 20);
  CHECK(m.excludes.empty());
  REQUIRE(m.trees.size() == 2);
  CHECK(m.trees[0].name == "config");
  CHECK(m.trees[0].files == 2);
  CHECK(m.trees[0].entries == 4);
  CHECK(m.trees[1].name == "data");
  CHECK(m.trees[1].files == 4);
  CHECK(m.trees[1].entries == 12);  // the sample's 11 and a fifo
  CHECK(m.total_bytes() == 44 + 11 + 300000 + 17 + 5000);
}

TEST_CASE("inspect: archive_bytes is unknown for a pipe", "[inspect]") {
  CountingSource source(sample().bytes, 4096);
  jb::InspectResult r = jb::inspect_archive(source, false);
  CHECK_FALSE(r.archive_bytes.has_value());
  CHECK(r.manifest.app_version == std::optional<std::string>("10.11.0"));
}

TEST_CASE("inspect: list gives every entry in archive order with its type", "[inspect]") {
  const Sample& s = sample();
  StringSource source(s.bytes, 1000);
  jb::InspectResult r = jb::inspect_archive(source, true);
  std::vector<std::string> paths;
  std::map<std::string, jb::ListedEntry> by_path;
  for (const auto& e : r.entries) {
    paths.push_back(e.path);
    by_path[e.path] = e;
  }
  CHECK(paths == std::vector<std::string>{
                     "MANIFEST.json",
                     "config/",
                     "config/dlna/",
                     "config/dlna/profile.xml",
                     "config/system.xml",
                     "data/",
                     "data/data/",
                     "data/data/device.txt",
                     "data/data/fifo",
                     "data/data/jellyfin.db",
                     "data/empty/",
                     "data/metadata/",
                     "data/metadata/device-hardlink",
                     "data/metadata/device-link",
                     "data/metadata/library/",
                     "data/metadata/library/ab/",
                     "data/metadata/library/ab/poster.jpg",
                     "CHECKSUMS.xxh128",
                 });
  CHECK(by_path["MANIFEST.json"].type == '-');
  CHECK(by_path["CHECKSUMS.xxh128"].type == '-');
  CHECK(by_path["config/"].type == 'd');
  CHECK(by_path["data/empty/"].type == 'd');
  CHECK(by_path["data/data/fifo"].type == 'p');
  CHECK(by_path["data/data/fifo"].mode == 0640);

  const jb::ListedEntry& file = by_path["data/data/jellyfin.db"];
  CHECK(file.type == '-');
  CHECK(file.size == 300000);
  CHECK(file.link.empty());
  CHECK(by_path["config/dlna/profile.xml"].mode == 0600);
  CHECK(by_path["config/system.xml"].mode == 0644);

  const jb::ListedEntry& sym = by_path["data/metadata/device-link"];
  CHECK(sym.type == 'l');
  CHECK(sym.link == "../data/device.txt");

  const jb::ListedEntry& hard = by_path["data/metadata/device-hardlink"];
  CHECK(hard.type == 'h');
  CHECK(hard.link == "data/data/device.txt");
  CHECK(hard.size == 0);

  // Ownership and times come from the files on disk.
  struct stat st;
  REQUIRE(::lstat((s.dir / "data/data/jellyfin.db").c_str(), &st) == 0);
  CHECK(file.uid == static_cast<std::int64_t>(st.st_uid));
  CHECK(file.gid == static_cast<std::int64_t>(st.st_gid));
  CHECK(file.mtime == static_cast<std::int64_t>(st.st_mtim.tv_sec));
  CHECK(file.mtime_nsec == st.st_mtim.tv_nsec);

  // The manifest comes with the list, too.
  CHECK(r.manifest.app_version == std::optional<std::string>("10.11.0"));
}

TEST_CASE("inspect: reads only the start of a large archive", "[inspect]") {
  TempDir tmp;
  make_dirs(tmp / "config");
  make_dirs(tmp / "data");
  write_file(tmp / "config/system.xml", "<ServerConfiguration/>\n");
  write_file(tmp / "data/big.bin", random_bytes(3u << 20, 3));  // does not compress
  const std::string full = create_bytes(tmp.path(), "10.10.7");
  REQUIRE(full.size() > (3u << 20));
  const std::size_t frame1 = first_frame_size(full);
  INFO("MANIFEST.json frame: " << frame1 << " bytes of " << full.size());
  REQUIRE(frame1 < 4096);

  SECTION("a source holding only the first 4 KiB") {
    StringSource source(full.substr(0, 4096));
    jb::InspectResult r = jb::inspect_archive(source, false);
    CHECK(r.manifest.app_version == std::optional<std::string>("10.10.7"));
    REQUIRE(r.manifest.trees.size() == 2);
    CHECK(r.manifest.trees[1].bytes == 3u << 20);
    CHECK(r.archive_bytes == std::optional<std::uint64_t>(4096));
  }
  SECTION("a source holding exactly the manifest's frame") {
    StringSource source(full.substr(0, frame1));
    CHECK(jb::inspect_archive(source, false).manifest.app_version ==
          std::optional<std::string>("10.10.7"));
  }
  SECTION("the whole archive, read in pieces: little is read") {
    CountingSource source(full, 4096);
    jb::InspectResult r = jb::inspect_archive(source, false);
    CHECK(r.manifest.app_version == std::optional<std::string>("10.10.7"));
    CHECK(source.bytes_read() <= 2 * 4096);
  }
  SECTION("list needs everything, so a cut archive is damaged") {
    StringSource source(full.substr(0, 4096));
    try {
      jb::inspect_archive(source, true);
      FAIL("a cut archive was listed");
    } catch (const jb::Error& e) {
      CHECK(e.kind() == jb::ErrorKind::kDamaged);
    }
  }
}

TEST_CASE("inspect: input that is not an archive is kDamaged", "[inspect]") {
  struct Case {
    const char* what;
    std::string bytes;
  };
  const std::string text = "<ServerConfiguration/>\n";
  std::vector<Case> cases = {
      {"empty", ""},
      {"text", "hello, this is not an archive\n"},
      {"zeros", std::string(8192, '\0')},
      {"a zstd magic alone", std::string("\x28\xb5\x2f\xfd", 4)},
      {"a tar.zst without a manifest", tar_zst_of({{"config/system.xml", text}})},
      {"a tar.zst whose manifest is not JSON", tar_zst_of({{"MANIFEST.json", "{not json"}})},
      {"a tar.zst whose manifest is another format's",
       tar_zst_of({{"MANIFEST.json", R"({"format": "something-else", "format_version": 1})"}})},
      {"an empty tar.zst", tar_zst_of({})},
  };
  // zstd of something that is not tar at all.
  StringSink not_tar;
  {
    jb::CompressStage stage(not_tar, {});
    stage.write(text.data(), text.size());
    stage.commit();
  }
  cases.push_back({"zstd of plain text", not_tar.bytes});
  // The sample cut inside its first frame.
  const std::string& good = sample().bytes;
  cases.push_back({"cut inside frame 1", good.substr(0, first_frame_size(good) / 2)});

  for (const auto& c : cases) {
    INFO(c.what);
    jb::Error e = inspect_error(c.bytes);
    CHECK(e.kind() == jb::ErrorKind::kDamaged);
    // The message names the source.
    CHECK(std::string(e.what()).rfind("memory: ", 0) == 0);
  }
}

TEST_CASE("inspect: damage in the manifest's frame is kDamaged", "[inspect]") {
  const std::string& good = sample().bytes;
  const std::size_t frame1 = first_frame_size(good);
  // The magic, the frame header descriptor, compressed data, the checksum.
  // (Not the window descriptor: a larger window decodes the same content.)
  for (std::size_t offset : {std::size_t{0}, std::size_t{4}, frame1 / 2, frame1 - 1}) {
    INFO("flip at " << offset << " of frame 1 (" << frame1 << " bytes)");
    std::string bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x01);
    CHECK(inspect_error(bad).kind() == jb::ErrorKind::kDamaged);
  }
}

TEST_CASE("inspect: damage to the manifest's frame is caught however the input arrives",
          "[inspect]") {
  // A pipe may deliver frame 1 without its last bytes first (here: all but
  // the 4-byte content checksum), then the rest. The reader must still check
  // frame 1's checksum before it trusts the manifest.
  const std::string& good = sample().bytes;
  const std::size_t frame1 = first_frame_size(good);
  std::string bad = good;
  bad[frame1 - 1] = static_cast<char>(bad[frame1 - 1] ^ 0x01);  // in the checksum

  for (std::size_t first_piece : {std::size_t{0}, frame1 - 4, frame1 - 1, frame1 / 2}) {
    INFO("first read returns " << first_piece << " bytes (0: a 4096-byte piece)");
    CountingSource source(bad, 4096, first_piece);
    try {
      jb::inspect_archive(source, false);
      FAIL("a damaged checksum of frame 1 went unnoticed");
    } catch (const jb::Error& e) {
      CHECK(e.kind() == jb::ErrorKind::kDamaged);
    }
  }
}

TEST_CASE("inspect: an archive cut inside the manifest's checksum is kDamaged", "[inspect]") {
  // Every byte of MANIFEST.json is there, but not frame 1's content checksum:
  // nothing vouches for those bytes, and the archive is truncated.
  const std::string& good = sample().bytes;
  const std::size_t frame1 = first_frame_size(good);
  for (std::size_t missing : {1, 2, 4}) {
    INFO(missing << " checksum bytes missing");
    CHECK(inspect_error(good.substr(0, frame1 - missing)).kind() == jb::ErrorKind::kDamaged);
  }
}

TEST_CASE("inspect: never returns a manifest other than the one written", "[inspect]") {
  // Every single-bit flip in frame 1, read from a source that returns one
  // byte per read: whatever inspect returns must be the original manifest.
  const std::string& good = sample().bytes;
  const std::size_t frame1 = first_frame_size(good);
  StringSource original_source(good);
  const nlohmann::json original = jb::inspect_archive(original_source, false).manifest.to_json();
  std::size_t wrong = 0;
  std::vector<std::size_t> wrong_at;
  for (std::size_t offset = 0; offset < frame1; ++offset) {
    std::string bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x01);
    StringSource source(bad, 1);
    try {
      if (jb::inspect_archive(source, false).manifest.to_json() != original) {
        ++wrong;
        wrong_at.push_back(offset);
      }
    } catch (const jb::Error& e) {
      CHECK(e.kind() == jb::ErrorKind::kDamaged);
    }
  }
  if (!wrong_at.empty()) UNSCOPED_INFO("first wrong manifest from a flip at " << wrong_at.front());
  CHECK(wrong == 0);
}

TEST_CASE("inspect: an error of the source is thrown as it is", "[inspect]") {
  FailingSource source;
  try {
    jb::inspect_archive(source, false);
    FAIL("a failing source was inspected");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK(std::string(e.what()) == "input/output error (test)");
  }
}

namespace {

// The same tar stream in one zstd frame (what `tar | zstd` writes).
std::string as_one_frame(const std::string& archive) {
  std::string tar;
  std::vector<char> out(1 << 20);
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer in{archive.data(), archive.size(), 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    REQUIRE_FALSE(ZSTD_isError(ZSTD_decompressStream(d.get(), &o, &in)));
    tar.append(out.data(), o.pos);
  }
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> c(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(c.get(), ZSTD_c_checksumFlag, 1);
  std::string frame(ZSTD_compressBound(tar.size()), '\0');
  const std::size_t n = ZSTD_compress2(c.get(), frame.data(), frame.size(), tar.data(), tar.size());
  REQUIRE_FALSE(ZSTD_isError(n));
  frame.resize(n);
  return frame;
}

}  // namespace

TEST_CASE("read_manifest_ahead: the manifest inspect returns", "[inspect]") {
  StringSource a(sample().bytes), b(sample().bytes);
  CHECK(jb::read_manifest_ahead(a).to_json() == jb::inspect_archive(b, false).manifest.to_json());
}

TEST_CASE("read_manifest_ahead: an archive of one frame will do", "[inspect]") {
  const std::string one = as_one_frame(sample().bytes);
  REQUIRE(first_frame_size(one) == one.size());
  StringSource a(one), b(one);
  // inspect trusts the manifest for what it shows: it refuses.
  CHECK(error_of([&] { jb::inspect_archive(b, false); }).kind() == jb::ErrorKind::kDamaged);
  CHECK(jb::read_manifest_ahead(a).app_version == std::optional<std::string>("10.11.0"));
}

TEST_CASE("read_manifest_ahead: damage in frame 1 is kDamaged, naming the source", "[inspect]") {
  std::string bad = sample().bytes;
  const std::size_t at = first_frame_size(bad) - 1;  // frame 1's checksum
  bad[at] = static_cast<char>(bad[at] ^ 0x01);
  StringSource source(bad);
  const jb::Error e = error_of([&] { jb::read_manifest_ahead(source); });
  CHECK(e.kind() == jb::ErrorKind::kDamaged);
  CHECK(std::string(e.what()).rfind("memory: ", 0) == 0);
}
