// The swap that puts restored trees in place, and the journal that makes it
// survive a crash at any instant.
//
//   plan -> journal written and fsync'ed beside every target
//        -> per tree: renameat2(staging, target, RENAME_EXCHANGE) (a plain
//           rename when the target does not exist), parent fsync'ed
//        -> per tree: the old tree (now under the staging name) renamed to
//           "<target>.bak-<UTC stamp>", or removed with discard_old
//        -> journal removed.
// Each step is idempotent and its progress can be read off the disk: the
// journal records the inode of every staged tree, so "is the new tree in
// place?" is "does the target have that inode?". complete_swap() therefore
// serves both restore and `recover`, which always rolls forward when every
// staged tree is still there (they were verified and synced before the
// journal was written), and rolls back otherwise, so data and config always
// come from the same backup.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/reporter.h"

namespace jb {

struct SwapTree {
  std::string name;     // "config" or "data"
  std::string target;   // absolute
  std::string staging;  // absolute; holds the old tree after the exchange
  std::string backup;   // where the old tree goes: "<target>.bak-<stamp>"
  bool target_existed = false;
  dev_t staged_dev = 0;  // identity of the staged (new) tree
  ino_t staged_ino = 0;
  // The target is a mount point (a container volume): it cannot be renamed,
  // so the swap happens one level down. The staging directory lies inside
  // the target; its children move aside into `backup` (also inside the
  // target, ".jellyfin-backup-old-<stamp>"), then the staged children move
  // in. A marker file in `backup` records that the first half is done, so
  // an interrupted swap knows which children are old and which are new.
  bool in_place = false;
};

struct SwapPlan {
  std::string archive;
  std::string archive_created;
  bool discard_old = false;
  std::vector<SwapTree> trees;
};

// "<parent>/.<name>.jellyfin-backup-journal"
std::string journal_path(const std::string& target);

// Writes the journal beside every target, durably. Throws kRefused if a
// journal is already there.
void write_journal(const SwapPlan& plan);

// The journal beside `target`, if any. Throws kDamaged if it is unreadable.
std::optional<SwapPlan> read_journal(const std::string& target);

// Throws Error(kRefused) if a restore into any of `targets` was interrupted:
// nothing may touch those trees before `recover` has run.
void check_no_pending_restore(const std::vector<std::string>& targets);

// Removes half-written journals (temporaries of a restore killed while it
// wrote its journal; the journal itself never appeared).
void remove_journal_leftovers(const std::string& target);

enum class SwapOutcome { kCompleted, kRolledBack };

// Brings the trees to "new in place, old aside" (or, when a staged tree has
// vanished, back to "old in place, new removed"), then removes the journal.
// SIGINT/SIGTERM are held off while it runs.
SwapOutcome complete_swap(const SwapPlan& plan, Reporter& reporter);

}  // namespace jb
