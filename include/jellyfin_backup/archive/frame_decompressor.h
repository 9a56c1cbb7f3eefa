// Streams the decompressed bytes of an archive out of a Source, checking
// what makes a v1 stream sound: every zstd frame carries a content checksum,
// there is no skippable frame, and the input ends exactly at a frame
// boundary. Structural damage is
// Error(kDamaged) naming the frame and its byte offset in the compressed
// input.
//
// A frame whose content checksum does not match is different: its data
// decoded, so reading goes on and the mismatch is only recorded
// (damaged_frames()). The reader above then finds, through the per-file
// XXH3-128 sums, exactly which entries the damage hit.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "jellyfin_backup/error.h"

// ZSTD_getFrameHeader is in the stable-but-"static" part of the API.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <xxhash.h>

#include "jellyfin_backup/io/source.h"

namespace jb {

class FrameDecompressor {
 public:
  // How next() cuts its pieces. kFull: every piece but the last fills the
  // buffer (what TarReader::check_nothing_follows relies on). kFrame: a piece
  // also ends where a frame ends, so a reader that wants only frame 1 (the
  // manifest) reads no more input than that frame, and gets its bytes only
  // once the frame's checksum has been verified.
  enum class Pieces { kFull, kFrame };

  // `source` must outlive the decompressor.
  explicit FrameDecompressor(Source& source, Pieces pieces = Pieces::kFull);

  // The next piece of decompressed data; empty at the clean end of the
  // stream. Every piece but the last fills the whole buffer. The view stays valid until the call after next: the two most
  // recent pieces are always intact (the reader relies on that to look at
  // bytes it handed to libarchive but libarchive did not consume).
  std::string_view next();

  const std::string& source_name() const { return source_.name(); }
  std::uint64_t frames() const { return frames_; }
  std::uint64_t compressed_bytes() const { return consumed_; }
  std::uint64_t decompressed_bytes() const { return produced_; }
  // Where the frame being decoded (or that failed) starts in the output.
  std::uint64_t frame_output_start() const { return frame_output_start_; }

  struct DamagedFrame {
    std::uint64_t index;          // 1-based
    std::uint64_t offset;         // in the compressed input
    std::uint64_t output_start;   // in the decompressed stream
  };
  // Frames that failed their content checksum, so far.
  const std::vector<DamagedFrame>& damaged_frames() const { return damaged_; }

 private:
  bool fill_input();  // false at end of input
  void check_frame_header();
  void end_of_frame();
  void remember_last4(const char* data, std::size_t n);
  [[noreturn]] void fail(const std::string& what, ErrorCode code = ErrorCode::kNone) const;

  struct DCtxDeleter {
    void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
  };
  Source& source_;
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx_;
  std::vector<char> in_;
  std::size_t in_pos_ = 0, in_end_ = 0;
  std::vector<char> out_[2];
  int out_index_ = 0;
  Pieces pieces_;
  bool eof_ = false;
  bool at_frame_start_ = true;
  std::uint64_t consumed_ = 0;      // compressed bytes handed to zstd
  std::uint64_t frame_offset_ = 0;  // where the current frame starts
  std::uint64_t frames_ = 0;        // frames completed
  std::uint64_t produced_ = 0;
  // The content checksum, checked here rather than by zstd so that a
  // mismatch does not stop the stream: XXH64 of the frame's output against
  // the frame's last 4 input bytes.
  struct XxhDeleter {
    void operator()(XXH64_state_t* s) const { XXH64_freeState(s); }
  };
  std::unique_ptr<XXH64_state_t, XxhDeleter> frame_hash_;
  unsigned char last4_[4] = {};
  std::vector<DamagedFrame> damaged_;
  std::uint64_t frame_output_start_ = 0;
};

}  // namespace jb
