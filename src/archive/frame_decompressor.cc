#include "jellyfin_backup/archive/frame_decompressor.h"

#include <cstdio>
#include <cstring>
#include <zstd_errors.h>
#include <new>
#include <string>

#include "jellyfin_backup/error.h"

namespace jb {
namespace {

constexpr std::size_t kInSize = 256 * 1024;
constexpr std::size_t kOutSize = 256 * 1024;
// Bounds the memory a hostile frame can ask for. Our frames use at most a
// 2^23 window (level 19); 2^25 leaves room without trusting the input.
constexpr int kMaxWindowLog = 25;

std::string describe_zstd_error(std::size_t ret) {
  switch (ZSTD_getErrorCode(ret)) {
    case ZSTD_error_checksum_wrong:
      return "content checksum mismatch: data stored in this frame is damaged";
    case ZSTD_error_corruption_detected:
      return "compressed data is corrupt";
    case ZSTD_error_frameParameter_windowTooLarge:
      return "frame asks for more memory than any archive of ours needs";
    default:
      return ZSTD_getErrorName(ret);
  }
}

std::string hex32(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08X", v);
  return buf;
}

}  // namespace

FrameDecompressor::FrameDecompressor(Source& source, Pieces pieces)
    : source_(source), dctx_(ZSTD_createDCtx()), in_(kInSize), pieces_(pieces) {
  if (!dctx_) throw std::bad_alloc();
  ZSTD_DCtx_setParameter(dctx_.get(), ZSTD_d_windowLogMax, kMaxWindowLog);
  ZSTD_DCtx_setParameter(dctx_.get(), ZSTD_d_forceIgnoreChecksum, ZSTD_d_ignoreChecksum);
  frame_hash_.reset(XXH64_createState());
  if (!frame_hash_) throw std::bad_alloc();
  out_[0].resize(kOutSize);
  out_[1].resize(kOutSize);
}

void FrameDecompressor::fail(const std::string& what, ErrorCode code) const {
  throw damaged_error(code, "zstd frame " + std::to_string(frames_ + 1) +
                      " (at byte " + std::to_string(frame_offset_) + "): " + what);
}

bool FrameDecompressor::fill_input() {
  if (eof_) return false;
  // Keep unconsumed bytes (a partial frame header) at the front.
  std::size_t keep = in_end_ - in_pos_;
  std::memmove(in_.data(), in_.data() + in_pos_, keep);
  in_pos_ = 0;
  in_end_ = keep;
  std::size_t n = source_.read(in_.data() + in_end_, in_.size() - in_end_);
  if (n == 0) eof_ = true;
  in_end_ += n;
  return n > 0;
}

// A v1 frame must carry a content checksum. Format v1 writes no skippable
// frame (archive_format.h), so one anywhere is a hidden payload that
// `zstd -d` and every tar would pass over in silence: refused from its
// header, before a byte of it is read, whatever size it announces.
void FrameDecompressor::check_frame_header() {
  for (;;) {
    ZSTD_frameHeader header;
    std::size_t ret = ZSTD_getFrameHeader(&header, in_.data() + in_pos_, in_end_ - in_pos_);
    if (ZSTD_isError(ret)) {
      if (frames_ == 0) {
        throw damaged_error("not a zstd-compressed file",
                            "is it a jellyfin-backup archive (.tar.zst)?");
      }
      fail("garbage after the last frame or a damaged frame header");
    }
    if (ret == 0) {
      if (header.frameType == ZSTD_skippableFrame) {
        const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + in_pos_);
        const std::uint32_t magic = p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24;
        fail("skippable frame (magic 0x" + hex32(magic) +
             ", " + std::to_string(header.frameContentSize) +
             " bytes) hidden in the archive: this format writes none");
      }
      if (!header.checksumFlag)
        fail("frame has no content checksum, so its data cannot be verified");
      return;
    }
    if (!fill_input() && in_end_ - in_pos_ < ret) fail("truncated frame header", ErrorCode::kTruncated);
  }
}

// Keeps the last 4 bytes consumed: at a frame's end, its stored checksum.
void FrameDecompressor::remember_last4(const char* data, std::size_t n) {
  if (n >= 4) {
    std::memcpy(last4_, data + n - 4, 4);
    return;
  }
  std::memmove(last4_, last4_ + n, 4 - n);
  std::memcpy(last4_ + 4 - n, data, n);
}

void FrameDecompressor::end_of_frame() {
  ++frames_;
  // The checksum is the low 32 bits of XXH64(content), little-endian.
  const auto digest = static_cast<std::uint32_t>(XXH64_digest(frame_hash_.get()));
  const std::uint32_t stored = static_cast<std::uint32_t>(last4_[0]) |
                               static_cast<std::uint32_t>(last4_[1]) << 8 |
                               static_cast<std::uint32_t>(last4_[2]) << 16 |
                               static_cast<std::uint32_t>(last4_[3]) << 24;
  if (digest != stored) damaged_.push_back({frames_, frame_offset_, frame_output_start_});
}

std::string_view FrameDecompressor::next() {
  out_index_ ^= 1;
  std::vector<char>& out_buf = out_[out_index_];
  ZSTD_outBuffer out{out_buf.data(), out_buf.size(), 0};
  while (out.pos < out.size) {
    if (in_pos_ == in_end_) fill_input();
    bool no_input = in_pos_ == in_end_;
    if (no_input && at_frame_start_) {
      if (frames_ == 0) throw damaged_error("empty file, not an archive");
      break;  // the clean end: input ended exactly after a frame
    }
    if (at_frame_start_) {
      frame_offset_ = consumed_;
      frame_output_start_ = produced_ + out.pos;
      check_frame_header();
      XXH64_reset(frame_hash_.get(), 0);
    }
    ZSTD_inBuffer in{in_.data() + in_pos_, in_end_ - in_pos_, 0};
    std::size_t before = out.pos;
    std::size_t ret = ZSTD_decompressStream(dctx_.get(), &out, &in);
    if (ZSTD_isError(ret)) fail(describe_zstd_error(ret));
    XXH64_update(frame_hash_.get(), static_cast<char*>(out.dst) + before, out.pos - before);
    remember_last4(in_.data() + in_pos_, in.pos);
    in_pos_ += in.pos;
    consumed_ += in.pos;
    at_frame_start_ = ret == 0;
    if (ret == 0) end_of_frame();
    if (ret == 0 && pieces_ == Pieces::kFrame && out.pos > 0) break;
    // Without input zstd can only flush what it holds; no progress means
    // the frame needs bytes that will never come.
    if (no_input && ret != 0 && out.pos == before)
      fail("archive is truncated (ends inside this frame)", ErrorCode::kTruncated);
  }
  produced_ += out.pos;
  return {out_buf.data(), out.pos};
}

}  // namespace jb
