// `prune`: delete the archives of a backup directory that a retention
// policy does not keep, with their sidecars. Never deletes when the policy
// is empty, never the newest archive, never a file that is not one of our
// readable archives (unreadable ones are kept and reported).
#pragma once

#include <string>
#include <vector>

#include "jellyfin_backup/catalog/catalog.h"
#include "jellyfin_backup/catalog/retention.h"
#include "jellyfin_backup/io/store.h"
#include "jellyfin_backup/reporter.h"

namespace jb {

struct PruneOptions {
  RetentionPolicy policy;
  bool dry_run = false;
};

struct PrunedArchive {
  ArchiveInfo info;
  bool keep = false;
  std::vector<std::string> reasons;  // why kept (retention.h)
  bool removed = false;              // deleted (never with dry_run)
  std::string error;                 // deleting failed: why
};

struct PruneResult {
  std::vector<PrunedArchive> archives;  // newest first
  std::vector<ArchiveInfo> unreadable;  // kept, never judged
  std::uint64_t freed_bytes = 0;        // archives removed (or, dry run, to remove)
  bool failed() const;                  // a deletion failed
};

// Throws Error(kUsage) when options.policy is empty (nothing is deleted).
PruneResult prune_store(const Store& store, const PruneOptions& options, Reporter& reporter);

}  // namespace jb
