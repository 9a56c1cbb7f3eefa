// The swap that puts restored trees in place, and the journal that makes it
// survive a crash at any instant.
//
//   plan -> journal written and fsync'ed, one per target, in the state
//           directory (state_dir.h: only the user running the tool can
//           write it, so nobody can forge a journal for `recover`)
//        -> per tree: renameat2(staging, target, RENAME_EXCHANGE) (a plain
//           rename when the target does not exist), parent fsync'ed
//        -> per tree: the old tree (now under the staging name) renamed to
//           "<target>.bak-<stamp>"
//        -> journals removed: the new trees are in place
//        -> with discard_old, the old trees removed; a failure there (the
//           tree's owner made it unremovable) is only a warning.
// Each step is idempotent and its progress can be read off the disk: the
// journal records the inode of every staged tree, so "is the new tree in
// place?" is "does the target have that inode?". complete_swap() therefore
// serves both restore and `recover`, which always rolls forward when every
// staged tree is still there (they were verified and synced before the
// journal was written), and rolls back otherwise, so data and config always
// come from the same backup.
//
// The journal names only targets; the staging and backup names are derived
// by rule from the target and two validated tokens, never read as paths.
// Every step works through directory fds opened up front (the target's
// parent, reached beneath the other tree's root when it lies inside it),
// with renameat2/fstatat relative to them, never following a symlink; what
// is found is checked against the plan, and a surprise is an error that
// leaves the trees recoverable.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "jellyfin_backup/reporter.h"

namespace jb {

struct SwapTree {
  std::string name;        // "config" or "data"
  std::string target;      // absolute, normalised
  std::string staging_id;  // the staging directory's suffix: digits (a pid)
  std::string backup_id;   // the backup's suffix: "<UTC stamp>" or "<stamp>.<n>"
  bool target_existed = false;
  dev_t staged_dev = 0;  // identity of the staged (new) tree
  ino_t staged_ino = 0;
  // The target is a mount point (a container volume): it cannot be renamed,
  // so the swap happens one level down. The staging directory lies inside
  // the target; its children move aside into the backup directory (also
  // inside the target, ".jellyfin-backup-old.bak-<id>"), then the staged
  // children move in. A marker file in the backup directory records that the
  // first half is done, so an interrupted swap knows which children are old
  // and which are new.
  bool in_place = false;

  // Derived by rule (for messages and tests): where the staged tree waits
  // (and the old one, after the exchange), and where the old tree goes.
  std::string staging() const;
  std::string backup() const;
};

struct SwapPlan {
  std::string archive;
  std::string archive_created;
  bool discard_old = false;
  std::vector<SwapTree> trees;
};

// The journal of a restore into `target`, in the state directory:
// "<state dir>/restore-<hash of target>-<sanitized name>.journal".
std::string journal_path(const std::string& target);

// Writes the journal of every target into the state directory (made 0700
// if missing), durably. Throws kRefused if a journal is already there or the
// state directory is not trustworthy.
void write_journal(const SwapPlan& plan);

// The journal of `target`, if any. Throws kRefused if the journal (or the
// state directory) is not trustworthy: not a regular file owned by us and
// writable by us alone; it is then never executed. Throws kDamaged if it is
// unreadable or invalid (names that break the rules, a tree twice...).
std::optional<SwapPlan> read_journal(const std::string& target);

// Throws Error(kRefused) if a restore into any of `targets` was interrupted:
// nothing may touch those trees before `recover` has run.
void check_no_pending_restore(const std::vector<std::string>& targets);

// Removes half-written journals (temporaries of a restore killed while it
// wrote its journal; the journal itself never appeared).
void remove_journal_leftovers(const std::string& target);

// The journal's contents (for tests of the validation).
std::string journal_text(const SwapPlan& plan);
SwapPlan parse_journal(const std::string& text, const std::string& path);

enum class SwapOutcome { kCompleted, kRolledBack };

// Brings the trees to "new in place, old aside" (or, when a staged tree has
// vanished, back to "old in place, new removed"), then removes the journal.
// SIGINT/SIGTERM are held off while it runs.
// `roots`: the trees the command was given (config and data); a target's
// parent inside one of them is opened beneath it, never by its path.
SwapOutcome complete_swap(const SwapPlan& plan, const std::vector<std::string>& roots, Reporter& reporter);
// Same, with the plan's own targets as roots.
SwapOutcome complete_swap(const SwapPlan& plan, Reporter& reporter);

}  // namespace jb
