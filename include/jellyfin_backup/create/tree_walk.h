// The stat-only walk done before anything is streamed. It fixes the list
// and order of entries, so MANIFEST.json (the first entry) can state exact
// per-tree counts and sizes, and hardlinks are resolved once: the first path
// of an inode in archive order carries the data, later ones in the same tree
// link to it.
//
// The trees belong to another user who may change them while root reads
// them, so the walk never acts on a path string below a tree's root: every
// directory is opened relative to its parent's fd, without following a
// symlink, and checked (dev/ino/type) against the fstatat that planned it.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "jellyfin_backup/archive/archive_format.h"
#include "jellyfin_backup/create/exclude_set.h"
#include "jellyfin_backup/error.h"
#include "jellyfin_backup/reporter.h"

namespace jb {

struct TreeSpec {
  std::string name;    // "config" or "data"
  std::string source;  // directory on disk, absolute and resolved (resolve_path): no link in it
  // Directories below `source` (absolute) the walk leaves out whole: a tree
  // nested in this one (stored under its own name), Jellyfin's log and cache.
  std::vector<std::string> skip = {};
};

struct PlannedEntry {
  std::size_t tree = 0;        // index into BackupPlan::trees
  std::string archive_path;    // "config/system.xml"; the root is "config"
  struct stat st {};           // lstat() at walk time: the header is made from it
  std::string hardlink_target; // archive path holding the data, for later links
};

struct PlannedTree {
  TreeSpec spec;
  std::uint64_t files = 0;    // regular files and hardlinks to them
  std::uint64_t bytes = 0;    // bytes stored: regular files, hardlinks not again
  std::uint64_t entries = 0;  // everything, directories included
};

struct BackupPlan {
  std::vector<PlannedTree> trees;
  std::vector<PlannedEntry> entries;  // archive order

  // Where an entry lives on disk.
  std::string source_path(const PlannedEntry& entry) const;
  std::uint64_t total_files() const;
  std::uint64_t total_bytes() const;
};

// How many components below its tree's root an entry may have: the very
// bound restore and verify put on archives, so create never writes an
// archive restore refuses.
// Walking and streaming hold one fd per level of the current path (never by
// path, so any path length works); the bound keeps that well inside the
// default RLIMIT_NOFILE of 1024. Jellyfin's own trees are about ten deep.
inline constexpr std::size_t kMaxTreeDepth = format::kMaxDepth;

// The error for an entry that is not what the walk planned (another inode,
// another type, a symlink where a directory was): the tree changed under us.
Error changed_while_read(const std::string& path);

// Walks `trees` in order. Sockets are skipped with a warning (they are
// recreated by their server). A directory that cannot be read is an error:
// a backup silently missing files is worse than a failed one. So is a tree
// deeper than kMaxTreeDepth, and a directory that is not what its parent
// listed when it is opened (changed_while_read).
BackupPlan plan_backup(const std::vector<TreeSpec>& trees, const ExcludeSet& excludes,
                       Reporter& reporter);

}  // namespace jb
