#include "jellyfin_backup/archive/frame_decompressor.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/frame_compressor.h"
#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::FrameCompressor;
using jb::FrameDecompressor;
using jb::test::StringSink;
using jb::test::StringSource;

namespace {

constexpr std::size_t kPiece = 256 * 1024;  // FrameDecompressor's output buffer

std::string pattern(std::size_t size, std::uint32_t seed = 1) {
  std::string s(size, '\0');
  std::uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>('a' + (x >> 16) % 7);
  }
  return s;
}

// One zstd frame per part, as the archive writer makes them.
std::string compress(const std::vector<std::string>& parts, int threads = 0) {
  StringSink sink;
  FrameCompressor c(sink, 3, threads);
  for (const auto& part : parts) {
    c.write(part.data(), part.size());
    c.end_frame();
  }
  return sink.bytes;
}

std::string concat(const std::vector<std::string>& parts) {
  std::string all;
  for (const auto& p : parts) all += p;
  return all;
}

// Offsets where frames start (and the total size at the end).
std::vector<std::size_t> frame_boundaries(const std::string& bytes) {
  std::vector<std::size_t> at = {0};
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t n = ZSTD_findFrameCompressedSize(bytes.data() + pos, bytes.size() - pos);
    REQUIRE_FALSE(ZSTD_isError(n));
    pos += n;
    at.push_back(pos);
  }
  return at;
}

std::string read_all(FrameDecompressor& d) {
  std::string out;
  for (;;) {
    std::string_view piece = d.next();
    if (piece.empty()) return out;
    out.append(piece);
  }
}

// Damage either stops the stream (thrown) or, for a content checksum that
// does not match, is recorded while reading goes on; this helper reports
// both as a thrown Error so the tests below can treat them alike.
std::string decompress(const std::string& bytes, std::size_t piece = 4096) {
  StringSource source(bytes, piece);
  FrameDecompressor d(source);
  std::string out = read_all(d);
  if (!d.damaged_frames().empty())
    throw jb::damaged_error("zstd frame " + std::to_string(d.damaged_frames().front().index) +
                            ": content checksum mismatch");
  return out;
}

// Decompressing `bytes` must fail with Error(kDamaged); returns the message.
std::string damaged_message(const std::string& bytes, std::size_t piece = 4096) {
  try {
    decompress(bytes, piece);
  } catch (const jb::Error& e) {
    CHECK(e.kind() == jb::ErrorKind::kDamaged);
    return e.full_message();
  }
  FAIL("damaged input of " << bytes.size() << " bytes was accepted (piece " << piece << ")");
  return {};
}

std::string skippable_frame(std::string_view payload, unsigned variant = 0) {
  std::string f;
  auto put32 = [&f](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put32(ZSTD_MAGIC_SKIPPABLE_START + variant);
  put32(static_cast<std::uint32_t>(payload.size()));
  f.append(payload);
  return f;
}

// A frame made by plain ZSTD_compress: zstd's default is no content checksum.
std::string frame_without_checksum(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  ZSTD_frameHeader header{};
  REQUIRE(ZSTD_getFrameHeader(&header, out.data(), out.size()) == 0);
  REQUIRE(header.checksumFlag == 0);
  return out;
}

}  // namespace

TEST_CASE("round trip through FrameCompressor", "[frame_decompressor]") {
  const std::vector<std::string> parts = {pattern(1000, 1), pattern(300000, 2), "z",
                                          pattern(70000, 3)};
  const std::string bytes = compress(parts);
  const std::string expected = concat(parts);

  // Tiny pieces make frame headers arrive in several reads.
  auto piece = GENERATE(as<std::size_t>{}, 1, 2, 5, 7, 13, 4096, 1u << 20);
  INFO("piece " << piece);
  StringSource source(bytes, piece);
  FrameDecompressor d(source);
  CHECK(read_all(d) == expected);
  CHECK(d.frames() == parts.size());
  CHECK(d.compressed_bytes() == bytes.size());
  CHECK(d.decompressed_bytes() == expected.size());
  CHECK(d.source_name() == "memory");
  // The clean end stays the end.
  CHECK(d.next().empty());
  CHECK(d.next().empty());
}

TEST_CASE("output from a multi-threaded compressor reads back", "[frame_decompressor]") {
  const std::vector<std::string> parts = {pattern(2'000'000, 4), pattern(10, 5)};
  CHECK(decompress(compress(parts, 2), 7) == concat(parts));
}

TEST_CASE("every piece but the last fills the buffer", "[frame_decompressor]") {
  // Frame boundaries do not shorten pieces.
  const std::vector<std::string> parts = {pattern(100000, 1), pattern(200000, 2),
                                          pattern(300000, 3)};
  const std::string bytes = compress(parts);
  StringSource source(bytes, 7);
  FrameDecompressor d(source);
  std::vector<std::size_t> sizes;
  std::string out;
  for (std::string_view piece = d.next(); !piece.empty(); piece = d.next()) {
    sizes.push_back(piece.size());
    out.append(piece);
  }
  CHECK(out == concat(parts));
  REQUIRE(sizes.size() == 3);
  CHECK(sizes[0] == kPiece);
  CHECK(sizes[1] == kPiece);
  CHECK(sizes[2] == 600000 - 2 * kPiece);
}

TEST_CASE("the two most recent pieces stay intact", "[frame_decompressor]") {
  const std::string data = pattern(3 * kPiece + 100, 9);
  const std::string bytes = compress({data});
  StringSource source(bytes);
  FrameDecompressor d(source);
  std::string_view first = d.next();
  const std::string first_copy(first);
  std::string_view second = d.next();
  const std::string second_copy(second);
  CHECK(first == first_copy);  // still valid after one more call
  CHECK(first == std::string_view(data).substr(0, kPiece));
  std::string_view third = d.next();
  CHECK(second == second_copy);
  CHECK(third == std::string_view(data).substr(2 * kPiece, kPiece));
}

TEST_CASE("empty input is damaged", "[frame_decompressor]") {
  CHECK_THAT(damaged_message(""), Catch::Contains("empty"));
}

TEST_CASE("input that is not zstd is damaged", "[frame_decompressor]") {
  for (const std::string& text :
       {std::string("plain text, not compressed at all\n"), std::string("\x1f\x8b\x08\x00", 4),
        std::string(1024, '\0'), std::string("MANIFEST.json") + std::string(499, '\0')}) {
    CHECK_THAT(damaged_message(text), Catch::Contains("not a zstd"));
  }
  // A one-byte file cannot be a frame either.
  damaged_message("x");
}

TEST_CASE("truncation anywhere but a frame boundary is damaged", "[frame_decompressor]") {
  const std::vector<std::string> parts = {pattern(500, 1), pattern(2000, 2), pattern(3000, 3)};
  const std::string bytes = compress(parts);
  const auto boundaries = frame_boundaries(bytes);
  REQUIRE(boundaries.size() == parts.size() + 1);
  const std::set<std::size_t> clean(boundaries.begin() + 1, boundaries.end());

  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    if (clean.count(cut)) continue;
    INFO("cut at " << cut << " of " << bytes.size());
    for (std::size_t piece : {std::size_t{7}, std::size_t{4096}}) {
      INFO("piece " << piece);
      damaged_message(bytes.substr(0, cut), piece);
    }
  }
}

TEST_CASE("truncation at a frame boundary is a shorter valid stream", "[frame_decompressor]") {
  // zstd cannot see this; the tar layer above reports the missing trailer.
  const std::vector<std::string> parts = {pattern(500, 1), pattern(2000, 2), pattern(3000, 3)};
  const std::string bytes = compress(parts);
  const auto boundaries = frame_boundaries(bytes);
  CHECK(decompress(bytes.substr(0, boundaries[1]), 7) == parts[0]);
  CHECK(decompress(bytes.substr(0, boundaries[2]), 7) == parts[0] + parts[1]);
}

TEST_CASE("the error names the frame and its offset", "[frame_decompressor]") {
  const std::vector<std::string> parts = {pattern(500, 1), pattern(2000, 2), pattern(3000, 3)};
  const std::string bytes = compress(parts);
  const auto boundaries = frame_boundaries(bytes);
  // Cut in the middle of frame 3.
  std::string message = damaged_message(bytes.substr(0, (boundaries[2] + boundaries[3]) / 2));
  CHECK_THAT(message, Catch::Contains("zstd frame 3") &&
                          Catch::Contains("at byte " + std::to_string(boundaries[2])) &&
                          Catch::Contains("truncated"));
}

TEST_CASE("a flipped byte never yields wrong data", "[frame_decompressor]") {
  // The frame header is not covered by the checksum (and has an unused bit),
  // so flip every byte after it: block headers, compressed data and the
  // content checksum. A few flips are harmless by the zstd format itself
  // (e.g. padding bits after an FSE table description) and decode to the
  // very same bytes; every other one must be reported as damage of the
  // right frame, never returned as data.
  const std::vector<std::string> parts = {pattern(700, 1), pattern(1500, 2)};
  const std::string bytes = compress(parts);
  const std::string expected = concat(parts);
  const auto boundaries = frame_boundaries(bytes);
  std::size_t flips = 0, harmless = 0;
  for (std::size_t f = 0; f + 1 < boundaries.size(); ++f) {
    std::size_t header =
        ZSTD_frameHeaderSize(bytes.data() + boundaries[f], bytes.size() - boundaries[f]);
    REQUIRE_FALSE(ZSTD_isError(header));
    for (std::size_t at = boundaries[f] + header; at < boundaries[f + 1]; ++at) {
      for (unsigned char mask : {0x01, 0x10, 0x80}) {
        INFO("byte " << at << " ^ " << int(mask) << " (frame " << f + 1 << ")");
        std::string damaged = bytes;
        damaged[at] = static_cast<char>(damaged[at] ^ mask);
        ++flips;
        try {
          std::string out = decompress(damaged);
          CHECK(out == expected);
          ++harmless;
        } catch (const jb::Error& e) {
          CHECK(e.kind() == jb::ErrorKind::kDamaged);
          CHECK_THAT(std::string(e.what()), Catch::Contains("zstd frame " + std::to_string(f + 1)));
        }
      }
    }
  }
  INFO(harmless << " of " << flips << " flips were harmless");
  CHECK(harmless * 50 < flips);
}

TEST_CASE("a flipped byte in the last block is damaged", "[frame_decompressor]") {
  const std::string bytes = compress({pattern(20000, 3)});
  for (std::size_t back : {5u, 10u, 50u}) {  // inside the compressed sequences
    std::string damaged = bytes;
    damaged[bytes.size() - back] = static_cast<char>(damaged[bytes.size() - back] ^ 0x24);
    INFO("byte " << bytes.size() - back);
    CHECK_THAT(damaged_message(damaged), Catch::Contains("zstd frame 1"));
  }
}

TEST_CASE("a wrong content checksum is recorded and reading goes on", "[frame_decompressor]") {
  // The reader above finds the damaged entries by their own hashes, so the
  // stream must not stop at the first frame whose checksum fails.
  const std::vector<std::string> parts = {pattern(5000, 7), pattern(3000, 8)};
  std::string bytes = compress(parts);
  const auto boundaries = frame_boundaries(bytes);
  std::size_t in_checksum = boundaries[1] - 1;  // last byte of frame 1's checksum
  bytes[in_checksum] = static_cast<char>(bytes[in_checksum] ^ 0x40);
  StringSource source(bytes);
  FrameDecompressor d(source);
  CHECK(read_all(d) == concat(parts));
  REQUIRE(d.damaged_frames().size() == 1);
  CHECK(d.damaged_frames()[0].index == 1);
  CHECK(d.damaged_frames()[0].offset == 0);
  CHECK(d.frames() == 2);
}

TEST_CASE("a wrong content checksum is damaged", "[frame_decompressor]") {
  std::string bytes = compress({pattern(5000, 7)});
  bytes.back() = static_cast<char>(bytes.back() ^ 0x40);  // last byte of the checksum
  CHECK_THAT(damaged_message(bytes), Catch::Contains("zstd frame 1") &&
                                         Catch::Contains("checksum"));
}

TEST_CASE("a frame without content checksum is damaged", "[frame_decompressor]") {
  const std::string plain = frame_without_checksum(pattern(4000, 8));
  SECTION("as the only frame") {
    CHECK_THAT(damaged_message(plain), Catch::Contains("no content checksum"));
  }
  SECTION("after a good frame") {
    const std::string good = compress({"first frame"});
    CHECK_THAT(damaged_message(good + plain, 7),
               Catch::Contains("zstd frame 2") && Catch::Contains("no content checksum") &&
                   Catch::Contains("at byte " + std::to_string(good.size())));
  }
  SECTION("with checksumFlag explicitly 0") {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    REQUIRE(cctx);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
    std::string data = pattern(1000, 9);
    std::string out(ZSTD_compressBound(data.size()), '\0');
    std::size_t n = ZSTD_compress2(cctx, out.data(), out.size(), data.data(), data.size());
    ZSTD_freeCCtx(cctx);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.resize(n);
    damaged_message(out);
  }
}

TEST_CASE("bytes after the last frame are damaged", "[frame_decompressor]") {
  const std::string good = compress({pattern(3000, 1), pattern(100, 2)});
  for (const std::string& tail : {std::string(1, '\0'), std::string("garbage"),
                                 std::string(512, '\0'), std::string("\xff\xff\xff\xff\xff", 5)}) {
    INFO("tail of " << tail.size() << " bytes");
    CHECK_THAT(damaged_message(good + tail), Catch::Contains("zstd frame 3") &&
                                                 Catch::Contains("garbage"));
    damaged_message(good + tail, 1);
  }
  // The first bytes of a frame magic, then nothing: a truncated frame header.
  CHECK_THAT(damaged_message(good + std::string("\x28\xb5", 2)), Catch::Contains("truncated"));
}

TEST_CASE("a frame asking for a huge window is refused", "[frame_decompressor]") {
  std::string bytes = compress({pattern(1000, 1)});
  ZSTD_frameHeader header{};
  REQUIRE(ZSTD_getFrameHeader(&header, bytes.data(), bytes.size()) == 0);
  // Streamed frames have no content size, so a window descriptor follows.
  REQUIRE(header.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN);
  REQUIRE(header.dictID == 0);
  // Byte 4 is the frame header descriptor; byte 5 the window descriptor:
  // exponent in the high five bits, windowLog = 10 + exponent. Ask for 2^30.
  bytes[5] = static_cast<char>(20 << 3);
  damaged_message(bytes);
}

TEST_CASE("skippable frames are refused: format v1 writes none", "[frame_decompressor]") {
  // zstd -d and tar pass over a skippable frame in silence: whatever it
  // holds would travel with a verified archive unseen (issue 11, point 9).
  const std::string a = pattern(3000, 1), b = pattern(5000, 2);
  const std::string fa = compress({a}), fb = compress({b});

  SECTION("before the first frame, between frames, after the last; any variant") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {skippable_frame("hidden") + fa, "zstd frame 1 (at byte 0)"},
        {fa + skippable_frame("seek index, some day") + fb, "zstd frame 2"},
        {fa + fb + skippable_frame("", 15), "zstd frame 3"},
    };
    for (const auto& [bytes, where] : cases) {
      for (std::size_t piece : {1, 7, 4096})
        CHECK_THAT(damaged_message(bytes, piece),
                 Catch::Contains(where) && Catch::Contains("skippable frame (magic 0x184D2A5") &&
                     Catch::Contains("this format writes none"));
    }
  }
  SECTION("refused from its header, whatever size it announces") {
    // 4 GiB announced, 3 bytes present: nothing of it is read or skipped.
    std::string skip = skippable_frame("abc", 5);
    skip[4] = skip[5] = skip[6] = skip[7] = '\xff';
    CHECK_THAT(damaged_message(fa + skip, 7), Catch::Contains("4294967295 bytes"));
  }
}

TEST_CASE("frame pieces: a piece ends where a frame ends", "[frame_decompressor]") {
  const std::vector<std::string> parts = {pattern(600, 1), pattern(400000, 2), pattern(9000, 3)};
  const std::string bytes = compress(parts);
  const auto boundaries = frame_boundaries(bytes);

  SECTION("the first piece is exactly the first frame, checksum verified") {
    // As inspect reads the manifest: frame 1 alone, from a source that
    // trickles bytes in.
    StringSource source(bytes, 7);
    FrameDecompressor d(source, FrameDecompressor::Pieces::kFrame);
    std::string_view first = d.next();
    CHECK(first == parts[0]);
    CHECK(d.frames() == 1);
    // It read no further into the source than frame 1 and one 7-byte piece.
    CHECK(d.compressed_bytes() == boundaries[1]);
  }
  SECTION("all pieces together are the whole stream") {
    auto piece = GENERATE(as<std::size_t>{}, 1, 7, 4096, 1u << 20);
    INFO("piece " << piece);
    StringSource source(bytes, piece);
    FrameDecompressor d(source, FrameDecompressor::Pieces::kFrame);
    std::string out;
    std::size_t pieces = 0;
    for (std::string_view p = d.next(); !p.empty(); p = d.next()) {
      CHECK(p.size() <= kPiece);
      out.append(p);
      ++pieces;
    }
    CHECK(out == concat(parts));
    CHECK(d.frames() == 3);
    CHECK(d.compressed_bytes() == bytes.size());
    CHECK(pieces >= 2);
  }
  SECTION("damage is still damage") {
    auto piece = GENERATE(as<std::size_t>{}, 7, 4096);
    for (std::size_t cut : {boundaries[1] - 1, boundaries[1] + 3, bytes.size() - 1}) {
      INFO("cut at " << cut << ", piece " << piece);
      StringSource source(bytes.substr(0, cut), piece);
      FrameDecompressor d(source, FrameDecompressor::Pieces::kFrame);
      try {
        while (!d.next().empty()) {
        }
        FAIL("truncated input accepted");
      } catch (const jb::Error& e) {
        CHECK(e.kind() == jb::ErrorKind::kDamaged);
      }
    }
  }
}
