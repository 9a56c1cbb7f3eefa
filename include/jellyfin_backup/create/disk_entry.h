// Turns a planned entry into a libarchive header with everything the format
// preserves: type, permissions, numeric ids and names, mtime with
// nanoseconds, symlink target, xattrs and ACLs, sparse map. libarchive's
// disk reader does the platform work for regular files and directories; we
// only pin the header to the walk's stat so the manifest's counts stay
// exact, and drop atime/ctime, which can not be restored and would make
// archives of the same tree differ.
//
// Nothing is read by path: the tree belongs to a user who could swap any
// component for a symlink. The caller hands over the entry already opened
// (and checked against the plan); libarchive reads xattrs, ACLs and the
// sparse map through that fd, and what it can only read by path (a
// directory's default ACL) through /proc/self/fd/<fd>, which names the
// opened inode itself. Symlinks, FIFOs and device nodes are described here
// from their O_PATH fd (readlinkat(fd, "")), without xattrs or ACLs: reading
// those needs a path or an fd that libarchive would open.
#pragma once

#include <string>

#include "jellyfin_backup/archive/libarchive_util.h"
#include "jellyfin_backup/create/tree_walk.h"

namespace jb {

class DiskEntryBuilder {
 public:
  DiskEntryBuilder();
  // `fd` is the entry itself, opened without following a link and checked
  // against `planned.st`: readable for a regular file or a directory, an
  // O_PATH fd for every other type. `source_path` is for messages only.
  ArchiveEntryPtr build(const PlannedEntry& planned, const std::string& source_path, int fd);

 private:
  void describe_other(archive_entry* entry, const PlannedEntry& planned,
                      const std::string& source_path, int fd);

  ArchiveReadPtr disk_;
};

}  // namespace jb
