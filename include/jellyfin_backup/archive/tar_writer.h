// Writes the pax tar stream of an archive into a Sink with libarchive.
// libarchive's own block buffering is turned off so every byte of an entry
// has reached the Sink when finish_entry() returns: frame boundaries then
// fall exactly on entry boundaries.
#pragma once

#include <ctime>
#include <exception>
#include <string_view>

#include "jellyfin_backup/archive/libarchive_util.h"
#include "jellyfin_backup/io/sink.h"

namespace jb {

class TarWriter {
 public:
  // `out` must outlive the writer.
  static TarWriter open(Sink& out);
  TarWriter(TarWriter&&) noexcept;
  ~TarWriter();

  // Returns libarchive's warning text, if it had one (e.g. a name it could
  // not convert and stored as raw bytes); throws Error on failure.
  std::string write_header(archive_entry* entry);
  void write_data(const void* data, std::size_t size);
  void finish_entry();

  // A regular file whose content is in memory (MANIFEST.json, CHECKSUMS).
  void write_memory_file(std::string_view path, std::string_view content, std::time_t mtime);

  // Writes the end-of-archive blocks and checks every result.
  void close();

 private:
  explicit TarWriter(Sink& out);
  static la_ssize_t write_callback(archive*, void* self, const void* buf, size_t size);
  void rethrow_sink_error();

  // Heap-allocated so the callback's pointer survives a move of TarWriter.
  struct State {
    Sink* out;
    std::exception_ptr sink_error;
  };
  std::unique_ptr<State> state_;
  ArchiveWritePtr archive_;
};

}  // namespace jb
