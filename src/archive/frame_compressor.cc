#include "jellyfin_backup/archive/frame_compressor.h"

#include <new>
#include <string>

#include "jellyfin_backup/error.h"

namespace jb {
namespace {

void check(std::size_t ret, const char* what) {
  if (ZSTD_isError(ret))
    throw Error(ErrorKind::kRuntime, std::string("zstd: ") + what + ": " + ZSTD_getErrorName(ret));
}

}  // namespace

FrameCompressor::FrameCompressor(Sink& sink, int level, int threads)
    : sink_(sink), cctx_(ZSTD_createCCtx()), out_(ZSTD_CStreamOutSize()) {
  if (!cctx_) throw std::bad_alloc();
  check(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level), "level");
  check(ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1), "checksum");
  if (threads > 0) {
    // Older or single-threaded libzstd builds refuse workers: compress inline.
    std::size_t ret = ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_nbWorkers, threads);
    (void)ret;
  }
}

void FrameCompressor::write(const void* data, std::size_t size) {
  ZSTD_inBuffer in{data, size, 0};
  drain(in, ZSTD_e_continue);
  bytes_in_ += size;
  frame_in_ += size;
}

void FrameCompressor::end_frame() {
  if (frame_in_ == 0) return;
  ZSTD_inBuffer in{nullptr, 0, 0};
  drain(in, ZSTD_e_end);
  frame_in_ = 0;
  ++frames_;
}

// Feeds all of `in` and writes whatever zstd hands back. With ZSTD_e_end it
// loops until the frame is completely flushed (return value 0).
void FrameCompressor::drain(ZSTD_inBuffer& in, ZSTD_EndDirective mode) {
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    std::size_t remaining = ZSTD_compressStream2(cctx_.get(), &out, &in, mode);
    check(remaining, "compression failed");
    if (out.pos > 0) {
      sink_.write(out_.data(), out.pos);
      bytes_out_ += out.pos;
    }
    bool input_done = in.pos == in.size;
    if (mode == ZSTD_e_end ? remaining == 0 : input_done) return;
  }
}

}  // namespace jb
