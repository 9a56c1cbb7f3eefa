// `inspect`: what an archive holds, from its manifest, reading only the
// start of the archive; with `list`, every entry's header too (no data is
// hashed: that is verify's job).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/io/source.h"

namespace jb {

struct ListedEntry {
  std::string path;
  char type = '-';  // as ls -l: '-', 'd', 'l', 'h' (hardlink), 'c', 'b', 'p'
  unsigned mode = 0;  // permission bits
  std::int64_t uid = 0, gid = 0;
  std::string uname, gname;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  long mtime_nsec = 0;
  std::string link;  // symlink target or hardlink target
};

struct InspectResult {
  Manifest manifest;
  std::optional<std::uint64_t> archive_bytes;  // when the source is a file
  std::vector<ListedEntry> entries;            // with list only
};

// Throws Error(kDamaged) when the start of the archive is not a valid
// jellyfin-backup archive.
InspectResult inspect_archive(Source& source, bool list);

// The manifest, as the Verifier judges an archive's first entry, for
// refusals made before the archive is read whole (restore, before it stops
// the server). In archives this tool writes frame 1 holds it alone and its
// checksum is checked here; in an archive of one frame (tar | zstd) the
// manifest is checked by the whole read that follows. Throws
// Error(kDamaged) naming the source.
Manifest read_manifest_ahead(Source& source);

}  // namespace jb
