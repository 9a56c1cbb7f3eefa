// Turns a planned entry into a libarchive header with everything the format
// preserves: type, permissions, numeric ids and names, mtime with
// nanoseconds, symlink target, xattrs and ACLs, sparse map. libarchive's
// disk reader does the platform work; we only pin the header to the walk's
// stat so the manifest's counts stay exact, and drop atime/ctime, which can
// not be restored and would make archives of the same tree differ.
#pragma once

#include <string>

#include "jellyfin_backup/archive/libarchive_util.h"
#include "jellyfin_backup/create/tree_walk.h"

namespace jb {

class DiskEntryBuilder {
 public:
  DiskEntryBuilder();
  // `fd` is the open regular file, or -1 for every other type.
  ArchiveEntryPtr build(const PlannedEntry& planned, const std::string& source_path, int fd);

 private:
  ArchiveReadPtr disk_;
};

}  // namespace jb
