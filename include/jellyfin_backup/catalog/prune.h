// `prune`: delete the archives of a backup directory that a retention
// policy does not keep, with their sidecars. Never deletes when the policy
// is empty, never the newest archive, never a file that is not one of our
// readable archives (unreadable ones are kept and reported).
//
// As restic groups snapshots by host, archives of different hosts (the
// manifest's `host`: two servers backing up into one directory) are judged
// apart, each host keeping its own newest, daily, ... archives, unless
// group_by_host is off (a host renamed, or runs in throwaway containers
// whose host names never repeat).
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
  bool group_by_host = true;
};

struct PrunedArchive {
  ArchiveInfo info;
  bool keep = false;
  std::vector<std::string> reasons;  // why kept (retention.h)
  bool removed = false;              // deleted (never with dry_run)
  std::string error;                 // deleting the archive failed: why
};

struct PruneResult {
  std::vector<PrunedArchive> archives;  // newest first
  std::vector<ArchiveInfo> unreadable;  // kept, never judged
  std::vector<std::string> hosts;       // the hosts of the judged archives, sorted
  // Sidecars whose archive was gone before this run (a deletion that failed
  // half-way, an archive deleted by hand; only for names create generates):
  // removed (or, dry run, to remove).
  std::vector<std::string> orphan_sidecars;
  std::uint64_t freed_bytes = 0;  // archives removed (or, dry run, to remove)
  bool failed() const;            // deleting an archive failed
};

// Throws Error(kUsage) when `policy` is empty: nothing may be deleted.
void check_policy(const RetentionPolicy& policy);

// Throws Error(kUsage) when options.policy is empty (nothing is deleted).
// A sidecar that cannot be deleted is a warning (its archive is gone; the
// next prune removes it).
PruneResult prune_store(const Store& store, const PruneOptions& options, Reporter& reporter);

}  // namespace jb
