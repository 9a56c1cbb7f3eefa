// The compression half of the create pipeline: the producer (walk, read,
// hash, tar formatting) writes tar bytes into this Sink; a worker thread
// compresses them into frames (with zstd's own workers on top) and writes
// the result to the output Sink. Memory stays bounded by the queue.
//
// It also applies the frame policy of the format: at an entry boundary, once
// the current frame holds >= frame_target bytes, the frame ends there.
#pragma once

#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#include "jellyfin_backup/archive/frame_compressor.h"
#include "jellyfin_backup/io/sink.h"
#include "jellyfin_backup/pipeline/bounded_queue.h"

namespace jb {

struct CompressOptions {
  int level = 3;
  int threads = 0;  // zstd workers; 0 compresses on the stage's own thread only
  std::uint64_t frame_target = 16u << 20;
};

class CompressStage : public Sink {
 public:
  // `out` must outlive the stage; it is only written from the worker thread.
  CompressStage(Sink& out, const CompressOptions& options);
  ~CompressStage() override;  // on the error path: stops the worker, discards

  void write(const void* data, std::size_t size) override;
  // Tells the stage that an entry ended: the frame may end here.
  void entry_boundary();
  // Ends the current frame here, whatever its size.
  void end_frame();
  // Flushes, ends the last frame, joins the worker and commits `out`.
  // Rethrows the worker's error, if any.
  void commit() override;
  std::string name() const override { return out_.name(); }

  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return compressor_.bytes_out(); }  // after commit()
  std::uint64_t frames() const { return compressor_.frames(); }        // after commit()

 private:
  struct Chunk {
    std::vector<char> data;
    bool end_frame = false;
  };
  void push_chunk(bool end_frame);
  void run();
  void rethrow_worker_error();

  Sink& out_;
  CompressOptions options_;
  FrameCompressor compressor_;
  BoundedQueue<Chunk> queue_;
  std::vector<char> pending_;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t frame_in_ = 0;
  std::exception_ptr worker_error_;
  std::thread worker_;
};

}  // namespace jb
