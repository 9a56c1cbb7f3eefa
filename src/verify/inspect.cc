#include "jellyfin_backup/verify/inspect.h"

#include "jellyfin_backup/archive/frame_decompressor.h"
#include "jellyfin_backup/archive/tar_reader.h"
#include "jellyfin_backup/archive/verifier.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"

namespace jb {
namespace {

ListedEntry describe(archive_entry* entry) {
  ListedEntry e;
  const char* path = archive_entry_pathname(entry);
  e.path = path ? path : "";
  switch (archive_entry_filetype(entry)) {
    case AE_IFDIR: e.type = 'd'; break;
    case AE_IFLNK: e.type = 'l'; break;
    case AE_IFCHR: e.type = 'c'; break;
    case AE_IFBLK: e.type = 'b'; break;
    case AE_IFIFO: e.type = 'p'; break;
    default: e.type = '-'; break;
  }
  if (const char* target = archive_entry_hardlink(entry)) {
    e.type = 'h';
    e.link = target;
  } else if (const char* target = archive_entry_symlink(entry)) {
    e.link = target;
  }
  e.mode = archive_entry_perm(entry);
  e.uid = archive_entry_uid(entry);
  e.gid = archive_entry_gid(entry);
  if (const char* u = archive_entry_uname(entry)) e.uname = u;
  if (const char* g = archive_entry_gname(entry)) e.gname = g;
  e.size = archive_entry_size(entry) > 0 ? static_cast<std::uint64_t>(archive_entry_size(entry)) : 0;
  e.mtime = archive_entry_mtime(entry);
  e.mtime_nsec = archive_entry_mtime_nsec(entry);
  return e;
}

// kInspect trusts the manifest for what it shows, so its frame must be
// whole and verified; kAhead uses it only to refuse early (the whole read
// that follows judges it again), so an archive of one frame (tar | zstd)
// will do.
enum class HeadUse { kInspect, kAhead };

InspectResult read_start(Source& source, bool list, HeadUse use = HeadUse::kInspect) {
  FrameDecompressor input(source, FrameDecompressor::Pieces::kFrame);
  TarReader tar(input);
  // The Verifier's judgement of the first entry is the one every command
  // shares: MANIFEST.json first, valid, a format version we read.
  Verifier verifier;
  archive_entry* entry = tar.next();
  if (!entry) throw damaged_error("empty tar archive, not a jellyfin-backup archive");
  InspectResult result;
  if (list) result.entries.push_back(describe(entry));
  verifier.begin_entry(entry);
  while (auto block = tar.read_block()) verifier.data(*block);
  verifier.end_entry();
  // Trust the manifest only once its frame's checksum is verified; in our
  // archives frame 1 holds it alone.
  if (!input.damaged_frames().empty())
    throw damaged_error("zstd frame 1 (MANIFEST.json) fails its content checksum");
  if (input.frames() == 0 && use == HeadUse::kInspect)
    throw damaged_error("zstd frame 1 does not hold MANIFEST.json alone",
                        "this is not an archive written by jellyfin-backup");
  result.manifest = *verifier.manifest();
  result.archive_bytes = source.size();

  if (list) {
    // The listing is held whole: no longer than the manifest announced
    // (its trees, itself and CHECKSUMS.xxh128), or a tiny archive of
    // millions of empty entries would cost gigabytes.
    std::uint64_t limit = 2;
    for (const auto& tree : result.manifest.trees)
      limit = tree.entries > UINT64_MAX - limit ? UINT64_MAX : limit + tree.entries;
    while ((entry = tar.next())) {
      throw_if_interrupted();
      if (result.entries.size() >= limit)
        throw damaged_error("more entries than the manifest announced (" + std::to_string(limit - 2) +
                            " in its trees)");
      result.entries.push_back(describe(entry));
    }
  }
  return result;
}

}  // namespace

InspectResult inspect_archive(Source& source, bool list) {
  try {
    return read_start(source, list);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDamaged) throw;
    throw e.with_message(source.name() + ": " + e.what());
  }
}

Manifest read_manifest_ahead(Source& source) {
  try {
    return read_start(source, /*list=*/false, HeadUse::kAhead).manifest;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kDamaged) throw;
    throw e.with_message(source.name() + ": " + e.what());
  }
}

}  // namespace jb
