// ZSTD_getFrameHeader and ZSTD_decompressBound are in the "static linking
// only" part of zstd.h.
#define ZSTD_STATIC_LINKING_ONLY
#include "jellyfin_backup/archive/frame_compressor.h"

#include <zstd.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "test_util.h"

using jb::FrameCompressor;
using jb::test::StringSink;

namespace {

std::string pattern(std::size_t size, std::uint32_t seed = 1) {
  // Compressible but not trivial: words from a small alphabet.
  std::string s(size, '\0');
  std::uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>('a' + (x >> 16) % 7);
  }
  return s;
}

// Splits a buffer of concatenated zstd frames; fails the test on garbage.
std::vector<std::string> split_frames(const std::string& bytes) {
  std::vector<std::string> frames;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t n = ZSTD_findFrameCompressedSize(bytes.data() + pos, bytes.size() - pos);
    INFO("at byte " << pos << ": " << (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "ok"));
    REQUIRE_FALSE(ZSTD_isError(n));
    REQUIRE(n > 0);
    frames.emplace_back(bytes, pos, n);
    pos += n;
  }
  return frames;
}

// Plain one-shot ZSTD_decompress of a single frame of unknown content size.
std::string decompress_frame(const std::string& frame) {
  unsigned long long bound = ZSTD_decompressBound(frame.data(), frame.size());
  REQUIRE(bound != ZSTD_CONTENTSIZE_ERROR);
  std::string out(static_cast<std::size_t>(bound), '\0');
  std::size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  INFO((ZSTD_isError(n) ? ZSTD_getErrorName(n) : "ok"));
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string decompress_all(const std::string& bytes) {
  std::string out;
  for (const auto& frame : split_frames(bytes)) out += decompress_frame(frame);
  return out;
}

ZSTD_frameHeader header_of(const std::string& frame) {
  ZSTD_frameHeader header{};
  std::size_t ret = ZSTD_getFrameHeader(&header, frame.data(), frame.size());
  REQUIRE(ret == 0);
  return header;
}

}  // namespace

TEST_CASE("compressed output decompresses to the input", "[frame_compressor]") {
  auto threads = GENERATE(0, 2);
  auto level = GENERATE(1, 3, 19);
  const std::string input = pattern(150000);

  StringSink sink;
  FrameCompressor c(sink, level, threads);
  // Uneven pieces, including an empty write.
  std::size_t pos = 0;
  for (std::size_t piece : {0u, 1u, 1000u, 65536u, 7u}) {
    c.write(input.data() + pos, piece);
    pos += piece;
  }
  c.write(input.data() + pos, input.size() - pos);
  c.end_frame();

  INFO("level " << level << ", threads " << threads);
  CHECK(c.bytes_in() == input.size());
  CHECK(c.bytes_out() == sink.bytes.size());
  CHECK(c.frames() == 1);
  CHECK(c.frame_bytes_in() == 0);
  CHECK(sink.bytes.size() < input.size());  // it did compress
  CHECK_FALSE(sink.committed);              // committing is the caller's business

  REQUIRE(split_frames(sink.bytes).size() == 1);
  CHECK(decompress_all(sink.bytes) == input);
  // One frame: plain ZSTD_decompress handles the whole buffer as well.
  std::string out(input.size() + 1, '\0');
  std::size_t n = ZSTD_decompress(out.data(), out.size(), sink.bytes.data(), sink.bytes.size());
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  CHECK(out == input);
}

TEST_CASE("end_frame makes separate frames, each with a content checksum",
          "[frame_compressor]") {
  auto threads = GENERATE(0, 3);
  const std::vector<std::string> parts = {pattern(10, 1), pattern(200000, 2), "x",
                                          pattern(5000, 3)};
  StringSink sink;
  FrameCompressor c(sink, 3, threads);
  std::uint64_t total = 0;
  for (const auto& part : parts) {
    c.write(part.data(), part.size());
    CHECK(c.frame_bytes_in() == part.size());
    c.end_frame();
    CHECK(c.frame_bytes_in() == 0);
    total += part.size();
  }
  INFO("threads " << threads);
  CHECK(c.frames() == parts.size());
  CHECK(c.bytes_in() == total);
  CHECK(c.bytes_out() == sink.bytes.size());

  auto frames = split_frames(sink.bytes);
  REQUIRE(frames.size() == parts.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << i);
    ZSTD_frameHeader header = header_of(frames[i]);
    CHECK(header.frameType == ZSTD_frame);
    CHECK(header.checksumFlag == 1);
    // Frames are independent: each one decompresses alone.
    CHECK(decompress_frame(frames[i]) == parts[i]);
  }
  // Plain ZSTD_decompress also accepts the concatenation.
  std::string out(total + 1, '\0');
  std::size_t n = ZSTD_decompress(out.data(), out.size(), sink.bytes.data(), sink.bytes.size());
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  std::string expected;
  for (const auto& part : parts) expected += part;
  CHECK(out == expected);
}

TEST_CASE("a frame spanning many writes is one frame", "[frame_compressor]") {
  StringSink sink;
  FrameCompressor c(sink, 3, 0);
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    std::string piece = pattern(1000, static_cast<std::uint32_t>(i));
    c.write(piece.data(), piece.size());
    expected += piece;
  }
  CHECK(c.frame_bytes_in() == 100000);
  c.end_frame();
  REQUIRE(split_frames(sink.bytes).size() == 1);
  CHECK(decompress_all(sink.bytes) == expected);
}

TEST_CASE("an empty end_frame writes nothing", "[frame_compressor]") {
  StringSink sink;
  FrameCompressor c(sink, 3, 0);

  SECTION("before any write") {
    c.end_frame();
    c.end_frame();
    CHECK(sink.bytes.empty());
    CHECK(c.frames() == 0);
    CHECK(c.bytes_out() == 0);
  }
  SECTION("after empty writes only") {
    c.write("", 0);
    c.end_frame();
    CHECK(sink.bytes.empty());
    CHECK(c.frames() == 0);
  }
  SECTION("right after a frame") {
    c.write("hello", 5);
    c.end_frame();
    const std::string after_first = sink.bytes;
    c.end_frame();
    c.end_frame();
    CHECK(sink.bytes == after_first);
    CHECK(c.frames() == 1);
    c.write("world", 5);
    c.end_frame();
    auto frames = split_frames(sink.bytes);
    REQUIRE(frames.size() == 2);
    CHECK(decompress_frame(frames[0]) == "hello");
    CHECK(decompress_frame(frames[1]) == "world");
  }
}

TEST_CASE("without end_frame the frame stays open", "[frame_compressor]") {
  // Destroying the compressor does not finish the frame: a caller that
  // forgets end_frame() gets no complete frame (and FrameDecompressor will
  // call that truncated), never a silently short one.
  StringSink sink;
  {
    FrameCompressor c(sink, 3, 0);
    c.write("some data", 9);
    CHECK(c.frames() == 0);
  }
  std::size_t n = ZSTD_findFrameCompressedSize(sink.bytes.data(), sink.bytes.size());
  CHECK(ZSTD_isError(n));
}

TEST_CASE("incompressible input still round trips", "[frame_compressor]") {
  std::string random(50000, '\0');
  std::uint64_t x = 88172645463325252ull;
  for (auto& c : random) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  StringSink sink;
  FrameCompressor c(sink, 19, 1);
  c.write(random.data(), random.size());
  c.end_frame();
  CHECK(header_of(sink.bytes).checksumFlag == 1);
  CHECK(decompress_all(sink.bytes) == random);
}
