#include "jellyfin_backup/archive/tar_writer.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/frame_compressor.h"
#include "jellyfin_backup/archive/frame_decompressor.h"
#include "jellyfin_backup/archive/tar_reader.h"
#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::TarReader;
using jb::TarWriter;
using jb::test::StringSink;
using jb::test::StringSource;

namespace {

constexpr std::time_t kMtime = 1700000000;

std::string pattern(std::size_t size, std::uint32_t seed = 1) {
  std::string s(size, '\0');
  std::uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

// zstd-compresses `tar` in frames of at most `frame` bytes.
std::string compress(std::string_view tar, std::size_t frame = 1u << 30) {
  StringSink sink;
  jb::FrameCompressor c(sink, 3, 0);
  for (std::size_t pos = 0; pos < tar.size(); pos += frame) {
    c.write(tar.data() + pos, std::min(frame, tar.size() - pos));
    c.end_frame();
  }
  return sink.bytes;
}

struct ReadEntry {
  std::string path;
  unsigned type = 0;
  std::int64_t size = 0;
  std::string symlink;
  std::string hardlink;
  unsigned perm = 0;
  std::time_t mtime = 0;
  std::string data;  // holes filled with zeros
};

// Reads every entry of a compressed tar stream, then checks what follows
// the end-of-archive marker (throws like TarReader does).
std::vector<ReadEntry> read_back(const std::string& compressed, std::size_t piece = 4096) {
  StringSource source(compressed, piece);
  jb::FrameDecompressor input(source);
  TarReader reader(input);
  std::vector<ReadEntry> entries;
  while (archive_entry* e = reader.next()) {
    ReadEntry r;
    r.path = archive_entry_pathname(e);
    r.type = archive_entry_filetype(e);
    r.size = archive_entry_size(e);
    if (const char* s = archive_entry_symlink(e)) r.symlink = s;
    if (const char* h = archive_entry_hardlink(e)) r.hardlink = h;
    r.perm = archive_entry_perm(e);
    r.mtime = archive_entry_mtime(e);
    while (auto block = reader.read_block()) {
      REQUIRE(block->offset >= r.data.size());
      r.data.resize(block->offset, '\0');
      r.data.append(block->bytes);
    }
    if (r.type == AE_IFREG) r.data.resize(static_cast<std::size_t>(r.size), '\0');
    entries.push_back(std::move(r));
  }
  reader.check_nothing_follows();
  return entries;
}

jb::ArchiveEntryPtr make_entry(const std::string& path, unsigned type, unsigned perm) {
  jb::ArchiveEntryPtr e(archive_entry_new());
  archive_entry_copy_pathname(e.get(), path.c_str());
  archive_entry_set_filetype(e.get(), type);
  archive_entry_set_perm(e.get(), perm);
  archive_entry_set_mtime(e.get(), kMtime, 0);
  archive_entry_set_size(e.get(), 0);
  return e;
}

// A small tar: memory file, directory, symlink, file written in pieces,
// hardlink, long name.
std::string sample_tar(const std::string& big) {
  StringSink sink;
  TarWriter w = TarWriter::open(sink);
  w.write_memory_file("MANIFEST.json", "{\"format\": \"jellyfin-backup\"}\n", kMtime);

  auto dir = make_entry("config/dlna", AE_IFDIR, 0755);
  CHECK(w.write_header(dir.get()).empty());
  w.finish_entry();

  auto link = make_entry("data/metadata/device-link", AE_IFLNK, 0777);
  archive_entry_copy_symlink(link.get(), "../data/device.txt");
  CHECK(w.write_header(link.get()).empty());
  w.finish_entry();

  auto file = make_entry("data/data/jellyfin.db", AE_IFREG, 0640);
  archive_entry_set_size(file.get(), static_cast<la_int64_t>(big.size()));
  CHECK(w.write_header(file.get()).empty());
  for (std::size_t pos = 0; pos < big.size(); pos += 10007)
    w.write_data(big.data() + pos, std::min<std::size_t>(10007, big.size() - pos));
  w.finish_entry();

  auto hard = make_entry("data/data/jellyfin-copy.db", AE_IFREG, 0640);
  archive_entry_copy_hardlink(hard.get(), "data/data/jellyfin.db");
  CHECK(w.write_header(hard.get()).empty());
  w.finish_entry();

  w.write_memory_file("data/" + std::string(150, 'n') + "/" + std::string(120, 'm'), "long",
                      kMtime);
  w.write_memory_file("CHECKSUMS.xxh128", "", kMtime);
  w.close();
  return sink.bytes;
}

}  // namespace

TEST_CASE("entries written by TarWriter read back with TarReader", "[tar_writer]") {
  const std::string big = pattern(123457);
  const std::string tar = sample_tar(big);

  auto piece = GENERATE(as<std::size_t>{}, 7, 4096, 1u << 20);
  auto frame = GENERATE(as<std::size_t>{}, 1000, 1u << 30);
  INFO("piece " << piece << ", frame " << frame);
  auto entries = read_back(compress(tar, frame), piece);

  REQUIRE(entries.size() == 7);
  CHECK(entries[0].path == "MANIFEST.json");
  CHECK(entries[0].type == AE_IFREG);
  CHECK(entries[0].perm == 0600);
  CHECK(entries[0].mtime == kMtime);
  CHECK(entries[0].size == 30);
  CHECK(entries[0].data == "{\"format\": \"jellyfin-backup\"}\n");

  CHECK((entries[1].path == "config/dlna" || entries[1].path == "config/dlna/"));
  CHECK(entries[1].type == AE_IFDIR);
  CHECK(entries[1].perm == 0755);
  CHECK(entries[1].size == 0);

  CHECK(entries[2].path == "data/metadata/device-link");
  CHECK(entries[2].type == AE_IFLNK);
  CHECK(entries[2].symlink == "../data/device.txt");
  CHECK(entries[2].data.empty());

  CHECK(entries[3].path == "data/data/jellyfin.db");
  CHECK(entries[3].type == AE_IFREG);
  CHECK(entries[3].perm == 0640);
  CHECK(entries[3].size == static_cast<std::int64_t>(big.size()));
  CHECK(entries[3].data == big);

  CHECK(entries[4].path == "data/data/jellyfin-copy.db");
  CHECK(entries[4].hardlink == "data/data/jellyfin.db");
  CHECK(entries[4].size == 0);

  CHECK(entries[5].path == "data/" + std::string(150, 'n') + "/" + std::string(120, 'm'));
  CHECK(entries[5].data == "long");

  CHECK(entries[6].path == "CHECKSUMS.xxh128");
  CHECK(entries[6].size == 0);
  CHECK(entries[6].data.empty());
}

TEST_CASE("TarWriter writes pax tar without block padding", "[tar_writer]") {
  const std::string tar = sample_tar(pattern(1000));
  // 512-byte records, ustar magic, and exactly two zero blocks at the end:
  // no padding to libarchive's default 10240-byte blocks.
  CHECK(tar.size() % 512 == 0);
  REQUIRE(tar.size() >= 1024 + 512);
  CHECK(tar.compare(257, 6, std::string("ustar\0", 6)) == 0);
  CHECK(all_zero(std::string_view(tar).substr(tar.size() - 1024)));
  CHECK_FALSE(all_zero(std::string_view(tar).substr(tar.size() - 1536, 512)));
  // The long name needs a pax extended header ('x').
  bool has_pax_header = false;
  for (std::size_t at = 0; at + 512 <= tar.size(); at += 512)
    if (tar[at + 156] == 'x' && tar.compare(at + 257, 5, "ustar") == 0) has_pax_header = true;
  CHECK(has_pax_header);
}

TEST_CASE("every byte of an entry reaches the sink by finish_entry", "[tar_writer]") {
  // Frame boundaries rely on it: nothing is held back in libarchive.
  StringSink sink;
  TarWriter w = TarWriter::open(sink);
  w.write_memory_file("MANIFEST.json", "first", kMtime);
  const std::size_t after_first = sink.bytes.size();
  CHECK(after_first % 512 == 0);
  CHECK(after_first >= 1024);
  CHECK(sink.bytes.find("first") != std::string::npos);

  const std::string data = pattern(700, 5);
  w.write_memory_file("config/x", data, kMtime);
  CHECK(sink.bytes.size() % 512 == 0);
  CHECK(sink.bytes.find(data) != std::string::npos);
  const std::size_t after_second = sink.bytes.size();
  CHECK(after_second >= after_first + 512 + 1024);  // header + two data blocks

  w.close();
  CHECK(sink.bytes.size() == after_second + 1024);  // only the end-of-archive blocks
  CHECK_FALSE(sink.committed);
}

TEST_CASE("TarWriter survives a move", "[tar_writer]") {
  StringSink sink;
  TarWriter first = TarWriter::open(sink);
  first.write_memory_file("MANIFEST.json", "before", kMtime);
  TarWriter moved(std::move(first));
  moved.write_memory_file("config/after", "after the move", kMtime);
  moved.close();
  auto entries = read_back(compress(sink.bytes));
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].data == "before");
  CHECK(entries[1].data == "after the move");
}

TEST_CASE("a non-UTF-8 name comes back byte for byte without a warning", "[tar_writer]") {
  const std::string name = "data/caf\xe9/\xff\xfe.nfo";
  StringSink sink;
  TarWriter w = TarWriter::open(sink);
  auto e = make_entry(name, AE_IFREG, 0644);
  archive_entry_set_size(e.get(), 3);
  CHECK(w.write_header(e.get()).empty());
  w.write_data("abc", 3);
  w.finish_entry();
  w.close();
  auto entries = read_back(compress(sink.bytes));
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].path == name);
  CHECK(entries[0].data == "abc");
}

namespace {

class FailingSink : public jb::Sink {
 public:
  explicit FailingSink(std::size_t limit) : limit_(limit) {}
  void write(const void*, std::size_t size) override {
    if (written_ + size > limit_) throw jb::Error(jb::ErrorKind::kRuntime, "disk full");
    written_ += size;
  }
  void commit() override {}
  std::string name() const override { return "failing"; }

 private:
  std::size_t limit_;
  std::size_t written_ = 0;
};

}  // namespace

TEST_CASE("a sink error surfaces as the sink's own Error", "[tar_writer]") {
  FailingSink sink(2048);
  TarWriter w = TarWriter::open(sink);
  w.write_memory_file("MANIFEST.json", "ok", kMtime);  // 1024 bytes
  try {
    w.write_memory_file("config/big", pattern(5000), kMtime);
    FAIL("the sink error was swallowed");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kRuntime);
    CHECK_THAT(std::string(e.what()), Catch::Contains("disk full"));
  }
}

TEST_CASE("writing more data than the header announced is an error", "[tar_writer]") {
  StringSink sink;
  TarWriter w = TarWriter::open(sink);
  auto e = make_entry("config/short", AE_IFREG, 0644);
  archive_entry_set_size(e.get(), 3);
  w.write_header(e.get());
  try {
    w.write_data("abcde", 5);
    FAIL("5 bytes written into a 3-byte entry");
  } catch (const jb::Error& err) {
    CHECK(err.kind() == jb::ErrorKind::kRuntime);
  }
}

TEST_CASE("zero padding after the end-of-archive marker is accepted", "[tar_writer]") {
  const std::string tar = sample_tar(pattern(5000));
  // GNU tar pads to a 10240-byte record; up to two records are read.
  auto padding = GENERATE(as<std::size_t>{}, 0, 1, 512, 10240 - 1024, 20480);
  INFO("padding " << padding);
  std::string padded = tar + std::string(padding, '\0');
  CHECK(read_back(compress(padded), 4096).size() == 7);
  CHECK(read_back(compress(padded, 777), 7).size() == 7);
}

TEST_CASE("padding beyond two tar records is refused: nothing rides along unseen", "[tar_writer]") {
  const std::string padded = sample_tar(pattern(5000)) + std::string(600000, '\0');
  CHECK_THROWS_AS(read_back(compress(padded), 4096), jb::Error);
}

TEST_CASE("data after the end-of-archive marker is damaged", "[tar_writer]") {
  const std::string tar = sample_tar(pattern(5000));

  auto expect_damaged = [](const std::string& compressed, std::size_t piece) {
    try {
      read_back(compressed, piece);
      FAIL("data after the end of the archive was accepted");
    } catch (const jb::Error& e) {
      CHECK(e.kind() == jb::ErrorKind::kDamaged);
      CHECK_THAT(std::string(e.what()), Catch::Contains("after the end of the tar archive"));
    }
  };

  SECTION("right after the marker") {
    auto piece = GENERATE(as<std::size_t>{}, 7, 4096, 1u << 20);
    expect_damaged(compress(tar + "x"), piece);
    expect_damaged(compress(tar + std::string(511, '\0') + "x"), piece);
  }
  SECTION("a second tar archive appended") {
    expect_damaged(compress(tar + tar), 4096);
  }
  SECTION("far behind zero padding, beyond what libarchive looked at") {
    auto piece = GENERATE(as<std::size_t>{}, 7, 4096);
    expect_damaged(compress(tar + std::string(700000, '\0') + "!"), piece);
  }
  SECTION("in a frame of its own") {
    StringSink sink;
    jb::FrameCompressor c(sink, 3, 0);
    c.write(tar.data(), tar.size());
    c.end_frame();
    c.write("trailing", 8);
    c.end_frame();
    expect_damaged(sink.bytes, 4096);
  }
  SECTION("a final non-zero byte split across frames") {
    std::string tail = tar + std::string(300000, '\0') + "z";
    expect_damaged(compress(tail, 100000), 7);
  }
}

TEST_CASE("TarReader reports damage as kDamaged", "[tar_writer]") {
  const std::string tar = sample_tar(pattern(50000));

  auto damaged = [](const std::string& compressed) -> std::string {
    try {
      read_back(compressed);
    } catch (const jb::Error& e) {
      CHECK(e.kind() == jb::ErrorKind::kDamaged);
      return e.what();
    }
    FAIL("damage not reported");
    return {};
  };

  SECTION("not a tar archive") {
    CHECK_THAT(damaged(compress(pattern(4096))), Catch::Contains("not a tar archive"));
  }
  SECTION("tar cut inside an entry's data") {
    // The zstd layer is sound (the cut is at a frame end); tar sees the loss.
    damaged(compress(tar.substr(0, tar.size() / 2)));
  }
  SECTION("tar cut at an entry boundary, before the end marker") {
    // libarchive accepts a tar that just ends between entries (some writers
    // omit the end-of-archive blocks), so TarReader does too: it returns
    // exactly the entries before the cut and invents nothing. The missing
    // CHECKSUMS.xxh128 trailer is what the Verifier reports.
    const std::string cut = tar.substr(0, tar.size() - 1024 - 512);  // before CHECKSUMS
    auto entries = read_back(compress(cut));
    REQUIRE(entries.size() == 6);
    CHECK(entries.back().data == "long");
  }
  SECTION("zstd damage wins over the tar error it causes") {
    std::string compressed = compress(tar);
    compressed.resize(compressed.size() - 100);
    CHECK_THAT(damaged(compressed), Catch::Contains("zstd frame"));
  }
  SECTION("a corrupted header checksum") {
    std::string bad = tar;
    // The header of the second entry (the directory) follows MANIFEST.json:
    // the pax header pair plus the manifest header and one data block.
    std::size_t at = 0;
    for (std::size_t pos = 512; pos + 512 <= bad.size(); pos += 512)
      if (bad.compare(pos, 11, "config/dlna") == 0) {
        at = pos;
        break;
      }
    REQUIRE(at != 0);
    bad[at + 148] = static_cast<char>(bad[at + 148] ^ 0x01);  // checksum field
    CHECK_THAT(damaged(compress(bad)), Catch::Contains("damaged tar header"));
  }
}

TEST_CASE("the end marker may straddle the reader's 256 KiB pieces", "[tar_writer]") {
  // The decompressor hands libarchive 256 KiB pieces; put the end-of-archive
  // blocks just before, across and just after such a boundary, and the
  // trailing byte in the same or the next piece.
  constexpr std::size_t kPiece = 256 * 1024;
  auto shift = GENERATE(-4, -3, -2, -1, 0, 1, 2);
  auto gap = GENERATE(as<std::size_t>{}, 0, 511, 1024, 5000);
  // MANIFEST.json header + data block, then the file's header: 1536 bytes.
  const std::size_t data_size =
      static_cast<std::size_t>(static_cast<long>(kPiece - 1536) + shift * 512L);
  StringSink sink;
  TarWriter w = TarWriter::open(sink);
  w.write_memory_file("MANIFEST.json", "{}", kMtime);
  w.write_memory_file("data/f", pattern(data_size), kMtime);
  w.close();
  const std::string tar = sink.bytes;
  REQUIRE(tar.size() == kPiece + static_cast<std::size_t>(static_cast<long>(shift) * 512) + 1024);
  INFO("end marker at " << tar.size() - 1024 << ", gap " << gap);

  CHECK(read_back(compress(tar + std::string(gap, '\0'))).size() == 2);
  try {
    read_back(compress(tar + std::string(gap, '\0') + "\x01"));
    FAIL("a byte after the end of the archive was accepted");
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kDamaged);
    CHECK_THAT(std::string(e.what()), Catch::Contains("after the end of the tar archive"));
  }
}
