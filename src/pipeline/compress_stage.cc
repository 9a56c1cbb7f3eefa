#include "jellyfin_backup/pipeline/compress_stage.h"

#include <algorithm>

#include "jellyfin_backup/error.h"

namespace jb {
namespace {

constexpr std::size_t kChunkBytes = 1 << 20;
// 8 MiB of tar bytes in flight is enough to keep zstd's workers busy.
constexpr std::size_t kQueueChunks = 8;

}  // namespace

CompressStage::CompressStage(Sink& out, const CompressOptions& options)
    : out_(out),
      options_(options),
      compressor_(out, options.level, options.threads),
      queue_(kQueueChunks) {
  pending_.reserve(kChunkBytes);
  worker_ = std::thread([this] { run(); });
}

CompressStage::~CompressStage() {
  // Only reached before commit() on the error path (a failure, Ctrl-C): the
  // queued bytes are of no use, so the worker must not compress them.
  queue_.cancel();
  if (worker_.joinable()) worker_.join();
}

void CompressStage::run() {
  try {
    while (auto chunk = queue_.pop()) {
      if (!chunk->data.empty()) compressor_.write(chunk->data.data(), chunk->data.size());
      if (chunk->end_frame) compressor_.end_frame();
    }
  } catch (...) {
    worker_error_ = std::current_exception();
    queue_.close();  // wakes a producer blocked on a full queue
  }
}

void CompressStage::rethrow_worker_error() {
  if (worker_.joinable()) worker_.join();
  if (worker_error_) std::rethrow_exception(worker_error_);
  throw Error(ErrorKind::kRuntime, "compression stopped unexpectedly");
}

void CompressStage::push_chunk(bool end_frame) {
  Chunk chunk{std::move(pending_), end_frame};
  pending_ = {};
  pending_.reserve(kChunkBytes);
  if (!queue_.push(std::move(chunk))) rethrow_worker_error();
}

void CompressStage::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  bytes_in_ += size;
  frame_in_ += size;
  while (size > 0) {
    std::size_t n = std::min(size, kChunkBytes - pending_.size());
    pending_.insert(pending_.end(), p, p + n);
    p += n;
    size -= n;
    if (pending_.size() == kChunkBytes) push_chunk(false);
  }
}

void CompressStage::entry_boundary() {
  if (frame_in_ >= options_.frame_target) end_frame();
}

void CompressStage::end_frame() {
  push_chunk(true);
  frame_in_ = 0;
}

void CompressStage::commit() {
  push_chunk(true);
  queue_.close();
  worker_.join();
  if (worker_error_) std::rethrow_exception(worker_error_);
  out_.commit();
}

}  // namespace jb
