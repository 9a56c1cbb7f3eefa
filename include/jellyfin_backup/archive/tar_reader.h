// Reads the pax tar stream of an archive with libarchive, pulling bytes
// from a FrameDecompressor. Structural damage (bad headers, truncation,
// zstd errors below) surfaces as Error(kDamaged); the zstd error is the one
// reported when both layers fail.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>

#include "jellyfin_backup/archive/frame_decompressor.h"
#include "jellyfin_backup/archive/libarchive_util.h"

namespace jb {

struct DataBlock {
  std::uint64_t offset;  // in the file: a gap before it is a hole (zeros)
  std::string_view bytes;
};

class TarReader {
 public:
  // `input` must outlive the reader.
  explicit TarReader(FrameDecompressor& input);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next entry (owned by the reader, valid until the next call), or
  // nullptr at the end-of-archive marker.
  archive_entry* next();
  // The next data block of the current entry; nullopt when it has no more.
  std::optional<DataBlock> read_block();
  // After next() returned nullptr: everything after the end-of-archive
  // marker must be zero padding. Throws Error(kDamaged) otherwise.
  void check_nothing_follows();

  // Offset in the tar stream of the current entry's header.
  std::uint64_t header_position() const {
    return static_cast<std::uint64_t>(archive_read_header_position(archive_.get()));
  }

  const std::string& source_name() const { return input_.source_name(); }

 private:
  static la_ssize_t read_callback(archive*, void* self, const void** buffer);
  void rethrow_input_error();
  [[noreturn]] void fail(const std::string& context);

  FrameDecompressor& input_;
  ArchiveReadPtr archive_;
  std::exception_ptr input_error_;
  // The two most recent pieces handed to libarchive (see check_nothing_follows).
  std::string_view last_, previous_;
  std::uint64_t handed_ = 0;
  bool input_ended_ = false;  // the callback returned end of input
};

}  // namespace jb
