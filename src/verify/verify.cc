#include "jellyfin_backup/verify/verify.h"

#include "jellyfin_backup/archive/frame_decompressor.h"
#include "jellyfin_backup/archive/tar_reader.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {
namespace {

// The main loop of every archive reader, top to bottom.
void read_all(FrameDecompressor& input, TarReader& tar, Verifier& verifier,
              EntryConsumer* consumer, Source& source, Reporter& reporter) {
  Progress progress;
  progress.bytes_total = source.size().value_or(0);
  while (archive_entry* entry = tar.next()) {
    throw_if_interrupted();
    const bool had_manifest = verifier.manifest().has_value();
    const bool pass_on = verifier.begin_entry(entry) && verifier.in_tree() && consumer;
    if (pass_on) consumer->begin_entry(entry);
    while (auto block = tar.read_block()) {
      verifier.data(*block);
      if (pass_on) consumer->data(*block);
      progress.bytes_done = input.compressed_bytes();
      reporter.progress(progress);
    }
    verifier.end_entry();
    if (pass_on) consumer->end_entry();
    if (!had_manifest && verifier.manifest() && consumer) consumer->on_manifest(*verifier.manifest());
    ++progress.files_done;
  }
  tar.check_nothing_follows();
}

}  // namespace

VerifyResult verify_archive(Source& source, Reporter& reporter, EntryConsumer* consumer) {
  FrameDecompressor input(source);
  Verifier verifier;
  try {
    TarReader tar(input);
    read_all(input, tar, verifier, consumer, source, reporter);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDamaged) throw;
    verifier.stream_failed(e.full_message());
  }
  verifier.finish();

  VerifyResult result;
  result.manifest = verifier.manifest();
  result.problems = verifier.problems();
  result.bad_entries = verifier.bad_entries();
  result.files = verifier.files_verified();
  result.bytes = verifier.bytes_verified();
  result.entries = verifier.entries();
  result.frames = input.frames();
  result.compressed_bytes = input.compressed_bytes();
  return result;
}

}  // namespace jb
