// zstd compression into independent frames, each with its content checksum.
// The caller decides where frames end (at entry boundaries, see
// CompressStage); this class only does the mechanics and owns the ZSTD_CCtx.
// With threads > 0, zstd's own workers compress while the caller produces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <zstd.h>

#include "jellyfin_backup/io/sink.h"

namespace jb {

class FrameCompressor {
 public:
  // `sink` must outlive the compressor. threads == 0 compresses on the
  // calling thread.
  FrameCompressor(Sink& sink, int level, int threads);

  void write(const void* data, std::size_t size);
  // Closes the current frame; the next write starts a new one. A frame with
  // no input is not written.
  void end_frame();

  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }
  std::uint64_t frames() const { return frames_; }
  std::uint64_t frame_bytes_in() const { return frame_in_; }

 private:
  void drain(ZSTD_inBuffer& in, ZSTD_EndDirective mode);

  struct CCtxDeleter {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  Sink& sink_;
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx_;
  std::vector<char> out_;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::uint64_t frames_ = 0;
  std::uint64_t frame_in_ = 0;
};

}  // namespace jb
