#include "jellyfin_backup/pipeline/compress_stage.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "jellyfin_backup/archive/frame_decompressor.h"
#include "jellyfin_backup/error.h"
#include "test_util.h"

using jb::CompressStage;
using jb::test::StringSink;
using jb::test::StringSource;
using namespace std::chrono_literals;

namespace {

std::string random_bytes(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Text-like, compressible bytes.
std::string text_bytes(std::size_t n) {
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; s.size() < n; ++i) s += "line " + std::to_string(i) + " of text\n";
  s.resize(n);
  return s;
}

// The zstd frames of `bytes`, each decompressed on its own.
struct Frame {
  std::size_t compressed_size;
  std::string content;
  bool has_checksum;
};
std::vector<Frame> split_frames(const std::string& bytes) {
  std::vector<Frame> frames;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const char* p = bytes.data() + pos;
    std::size_t n = ZSTD_findFrameCompressedSize(p, bytes.size() - pos);
    REQUIRE_FALSE(ZSTD_isError(n));
    ZSTD_frameHeader header;
    REQUIRE(ZSTD_getFrameHeader(&header, p, n) == 0);
    // Streamed frames do not state their size: decompress incrementally.
    std::string content;
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    ZSTD_inBuffer in{p, n, 0};
    std::string buf(1 << 16, '\0');
    std::size_t ret = 1;
    while (ret != 0) {
      ZSTD_outBuffer out{buf.data(), buf.size(), 0};
      ret = ZSTD_decompressStream(dctx.get(), &out, &in);
      REQUIRE_FALSE(ZSTD_isError(ret));
      content.append(buf.data(), out.pos);
      if (ret != 0 && in.pos == in.size && out.pos == 0) FAIL("frame does not end");
    }
    frames.push_back({n, std::move(content), header.checksumFlag != 0});
    pos += n;
  }
  return frames;
}

// Everything the project's own reader gets out of `bytes`.
std::string decompress_all(const std::string& bytes, std::uint64_t* frames = nullptr) {
  StringSource source(bytes, 1000);
  jb::FrameDecompressor input(source);
  std::string out;
  for (auto piece = input.next(); !piece.empty(); piece = input.next()) out.append(piece);
  if (frames) *frames = input.frames();
  return out;
}

// Runs `fn`, but gives up the whole process if it takes too long: a hang is
// the failure these tests look for, and it must not stall the suite.
void within_deadline(const std::function<void()>& fn, std::chrono::seconds limit = 30s) {
  auto done = std::async(std::launch::async, fn);
  if (done.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "FATAL: operation hung for more than %lld s\n",
                 static_cast<long long>(limit.count()));
    std::_Exit(99);
  }
  done.get();  // rethrows
}

// Accepts `budget` bytes, then throws on every write.
class FailingSink : public jb::Sink {
 public:
  explicit FailingSink(std::size_t budget) : budget_(budget) {}
  void write(const void*, std::size_t size) override {
    ++writes;
    if (size > budget_) throw jb::Error(jb::ErrorKind::kRuntime, "disk full (test)");
    budget_ -= size;
  }
  void commit() override { committed = true; }
  std::string name() const override { return "failing"; }
  std::atomic<int> writes{0};
  bool committed = false;

 private:
  std::size_t budget_;
};

class CommitFailingSink : public StringSink {
 public:
  void commit() override { throw jb::Error(jb::ErrorKind::kRuntime, "cannot sync (test)"); }
};

// Blocks its first write until released, and says when it is blocked.
class GateSink : public jb::Sink {
 public:
  void write(const void*, std::size_t size) override {
    std::unique_lock lock(mutex_);
    if (!blocked_once_) {
      blocked_once_ = true;
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    bytes += size;
  }
  void commit() override {}
  std::string name() const override { return "gate"; }
  bool wait_blocked(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return blocked_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }
  std::size_t total() {
    std::lock_guard lock(mutex_);
    return bytes;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool blocked_once_ = false, blocked_ = false, released_ = false;
  std::size_t bytes = 0;
};

}  // namespace

TEST_CASE("CompressStage: bytes come out decompressed identically", "[compress_stage]") {
  auto threads = GENERATE(0, 2);
  INFO("threads " << threads);
  // Over several 1 MiB chunks, written in odd-sized pieces.
  const std::string input = random_bytes(1500000) + text_bytes(2000000) + random_bytes(77, 2);
  StringSink sink;
  {
    CompressStage stage(sink, {3, threads, 1u << 30});
    std::size_t pos = 0, piece = 1;
    while (pos < input.size()) {
      std::size_t n = std::min(piece, input.size() - pos);
      stage.write(input.data() + pos, n);
      pos += n;
      piece = piece * 3 + 1;
      if (piece > 700000) piece = 13;
      stage.entry_boundary();
    }
    CHECK(stage.bytes_in() == input.size());
    CHECK_FALSE(sink.committed);
    stage.commit();
    CHECK(sink.committed);
    CHECK(stage.bytes_out() == sink.bytes.size());
    CHECK(stage.frames() == 1);  // the target was never reached
  }
  std::uint64_t frames = 0;
  CHECK(decompress_all(sink.bytes, &frames) == input);
  CHECK(frames == 1);
  auto split = split_frames(sink.bytes);
  REQUIRE(split.size() == 1);
  CHECK(split[0].has_checksum);
  CHECK(sink.bytes.size() < input.size());  // the text part compresses
}

TEST_CASE("CompressStage: nothing written gives an empty output", "[compress_stage]") {
  StringSink sink;
  CompressStage stage(sink, {});
  stage.entry_boundary();
  stage.commit();
  CHECK(sink.committed);
  CHECK(stage.frames() == 0);
  CHECK(stage.bytes_in() == 0);
  CHECK(sink.bytes.empty());
}

TEST_CASE("CompressStage: an entry boundary after frame_target bytes starts a new frame",
          "[compress_stage]") {
  auto threads = GENERATE(0, 2);
  INFO("threads " << threads);
  const std::string a = text_bytes(600), b = random_bytes(600), c = text_bytes(1000),
                    d = random_bytes(10), e = text_bytes(5000);
  StringSink sink;
  CompressStage stage(sink, {3, threads, 1000});
  stage.write(a.data(), a.size());
  stage.entry_boundary();  // 600 < 1000: the frame goes on
  stage.write(b.data(), b.size());
  stage.entry_boundary();  // 1200 >= 1000: frame 1 ends here
  stage.write(c.data(), c.size());
  stage.entry_boundary();  // exactly 1000: frame 2 ends here
  stage.write(d.data(), d.size());
  stage.write(e.data(), e.size());  // no boundary inside: 5010 bytes in frame 3
  stage.entry_boundary();
  stage.entry_boundary();  // a second boundary adds no empty frame
  stage.commit();
  CHECK(stage.frames() == 3);

  auto frames = split_frames(sink.bytes);
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].content == a + b);
  CHECK(frames[1].content == c);
  CHECK(frames[2].content == d + e);
  for (const auto& f : frames) CHECK(f.has_checksum);
  std::uint64_t decoded_frames = 0;
  CHECK(decompress_all(sink.bytes, &decoded_frames) == a + b + c + d + e);
  CHECK(decoded_frames == 3);
}

TEST_CASE("CompressStage: a frame never ends between entry boundaries", "[compress_stage]") {
  // 3 MiB in one entry with a 1000-byte target: one frame, however many
  // chunks the stage cut it into.
  const std::string big = random_bytes(3u << 20, 5);
  StringSink sink;
  CompressStage stage(sink, {1, 0, 1000});
  stage.write(big.data(), big.size());
  stage.commit();
  CHECK(stage.frames() == 1);
  auto frames = split_frames(sink.bytes);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].content == big);
}

TEST_CASE("CompressStage: end_frame ends the frame whatever its size", "[compress_stage]") {
  const std::string head = "MANIFEST", rest = text_bytes(3000);
  StringSink sink;
  CompressStage stage(sink, {3, 0, 16u << 20});
  stage.write(head.data(), head.size());
  stage.end_frame();
  stage.end_frame();  // no input since: no empty frame
  stage.write(rest.data(), rest.size());
  stage.entry_boundary();  // far below the target
  stage.commit();
  CHECK(stage.frames() == 2);
  auto frames = split_frames(sink.bytes);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].content == head);
  CHECK(frames[1].content == rest);
}

TEST_CASE("CompressStage: name() is the output's name", "[compress_stage]") {
  StringSink sink;
  CompressStage stage(sink, {});
  CHECK(stage.name() == "memory");
  stage.commit();
}

TEST_CASE("CompressStage: an output that fails makes commit() rethrow its error",
          "[compress_stage]") {
  auto threads = GENERATE(0, 2);
  INFO("threads " << threads);
  FailingSink sink(0);
  const std::string input = text_bytes(5000);
  bool committed = false;
  std::optional<jb::Error> error;
  // Assertions stay on the main thread: Catch2 v2 is not thread-safe.
  within_deadline([&] {
    CompressStage stage(sink, {3, threads, 1u << 30});
    stage.write(input.data(), input.size());
    try {
      stage.commit();
      committed = true;
    } catch (const jb::Error& e) {
      error = e;
    }
  });
  CHECK_FALSE(committed);
  REQUIRE(error.has_value());
  CHECK(error->kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(error->what()) == "disk full (test)");
  CHECK(sink.writes.load() >= 1);
  CHECK_FALSE(sink.committed);  // a failed stream is never committed
}

TEST_CASE("CompressStage: an output failing mid-stream stops a producer that keeps writing",
          "[compress_stage]") {
  // The output accepts 100 KiB, then fails; the producer has 40 MiB to write,
  // far more than the queue holds. It must get the error, not block forever.
  FailingSink sink(100 * 1024);
  const std::string block = random_bytes(256 * 1024, 9);
  std::optional<jb::Error> error;
  within_deadline([&] {
    CompressStage stage(sink, {1, 0, 1u << 20});
    try {
      for (int i = 0; i < 160; ++i) {
        stage.write(block.data(), block.size());
        stage.entry_boundary();
      }
      stage.commit();
    } catch (const jb::Error& e) {
      error = e;
    }
  });
  REQUIRE(error.has_value());
  CHECK(error->kind() == jb::ErrorKind::kRuntime);
  CHECK(std::string(error->what()) == "disk full (test)");
  CHECK_FALSE(sink.committed);
}

TEST_CASE("CompressStage: an error from the output's commit propagates", "[compress_stage]") {
  CommitFailingSink sink;
  CompressStage stage(sink, {});
  stage.write("abc", 3);
  CHECK_THROWS_WITH(stage.commit(), "cannot sync (test)");
  CHECK(decompress_all(sink.bytes) == "abc");  // the stream itself was complete
}

TEST_CASE("CompressStage: destruction without commit does not commit and does not hang",
          "[compress_stage]") {
  StringSink sink;
  const std::string block = random_bytes(3u << 20, 4);
  within_deadline([&] {
    CompressStage stage(sink, {1, 0, 1u << 30});
    stage.write(block.data(), block.size());
    // the producer fails here: the stage is destroyed
  });
  CHECK_FALSE(sink.committed);
}

TEST_CASE("CompressStage: destruction on the error path discards queued data",
          "[compress_stage]") {
  // compress_stage.h: "~CompressStage() ... on the error path: stops the
  // worker, discards". The worker is held inside its first output write while
  // 8 more MiB are queued; then the stage is destroyed. Discarding means the
  // queued chunks are not compressed and written to the output any more.
  GateSink sink;
  const std::string chunk = random_bytes(1u << 20, 11);
  auto stage = std::make_unique<CompressStage>(sink, jb::CompressOptions{1, 0, 1u << 30});
  stage->write(chunk.data(), chunk.size());  // chunk 1: the worker takes it
  stage->write(chunk.data(), chunk.size());  // chunk 2
  REQUIRE(sink.wait_blocked(10s));           // worker stuck in its first write
  for (int i = 0; i < 7; ++i) stage->write(chunk.data(), chunk.size());  // fills the queue

  std::thread destroyer([&] { stage.reset(); });
  std::this_thread::sleep_for(200ms);  // the destructor has closed the queue and waits
  sink.release();
  destroyer.join();
  // What came out is at most what the worker had in hand: chunks 1 and 2
  // (random data does not compress, so about 2 MiB). Draining the queue
  // instead writes all 9 MiB.
  INFO("bytes written after destruction began: " << sink.total());
  CHECK(sink.total() < (3u << 20));
}
