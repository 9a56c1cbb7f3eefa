// `prune`: delete the archives of a backup directory that a retention
// policy does not keep, with their sidecars. Never deletes when the policy
// is empty, never the newest archive, never a file that is not one of our
// readable archives (unreadable ones are kept and reported).
//
// Only archives whose dates can be believed are judged: one dated more than
// a day ahead of the clock (by name or manifest) is kept and reported, and
// counts for nothing: not "the newest", not a daily slot. Otherwise anyone
// who can put a file in the directory could make three tiny fakes from 2099
// push every real archive out of --keep-daily 3.
//
// As restic groups snapshots by host, archives of different hosts (the
// manifest's `host`: two servers backing up into one directory) are judged
// apart, each host keeping its own newest, daily, ... archives, unless
// group_by_host is off (a host renamed, or runs in throwaway containers
// whose host names never repeat).
#pragma once

#include <cstdint>
#include <optional>
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
  // The clock that says what "in the future" is (unix seconds); nullopt:
  // the system clock when prune starts.
  std::optional<std::int64_t> now;
};

// An archive dated too far ahead to be believed (catalog.h future_date).
struct FutureArchive {
  ArchiveInfo info;
  std::int64_t date = 0;  // the date that is in the future
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
  // Known to be damaged (a check record, catalog.h): kept for a person to
  // look at, never judged, so never filling a keep slot ("newest" included).
  std::vector<ArchiveInfo> damaged;
  std::vector<FutureArchive> future;    // dated in the future: kept, never judged
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
