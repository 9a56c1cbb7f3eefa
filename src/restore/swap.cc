#include "jellyfin_backup/restore/swap.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/remove_tree.h"
#include "jellyfin_backup/io/unique_fd.h"
#include "jellyfin_backup/restore/staging_dir.h"
#include "jellyfin_backup/restore/state_dir.h"

namespace jb {
namespace {

constexpr const char* kAsideMarker = ".jellyfin-backup-moved-aside";
constexpr const char* kRecoverHint = "run `jellyfin-backup recover` to finish or undo the restore";

// Holds off SIGINT/SIGTERM for a scope: the swap's few renames run to the
// end; a signal that arrives meanwhile is delivered afterwards.
class BlockSignals {
 public:
  BlockSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

Error changed(const std::string& path, const std::string& what) {
  return io_error(path, what + " (did something else change the trees during the restore?)", 0, kRecoverHint);
}

// The directory that holds the swap's three names, opened once, up front:
// the target's parent (open_target_parent: beneath the other tree when it
// lies inside it), or for a mount point swapped one level down, the target.
struct SwapDir {
  DirFd dir;
  std::string target, staging, backup;  // names in `dir`
};

SwapDir open_swap_dir(const SwapTree& t, const std::vector<std::string>& roots) {
  DirFd parent = open_target_parent(t.target, roots);
  if (!t.in_place) return {std::move(parent), name_of(t.target), name_of(t.staging()), name_of(t.backup())};
  return {parent.open_dir(name_of(t.target)), {}, name_of(t.staging()), name_of(t.backup())};
}

// Does `name` in `dir` hold the staged (new) tree of `t`?
bool holds_staged(const DirFd& dir, const std::string& name, const SwapTree& t) {
  auto st = dir.stat_at(name);
  return st && S_ISDIR(st->st_mode) && st->st_dev == t.staged_dev && st->st_ino == t.staged_ino;
}

int rename_at(const DirFd& from, const std::string& a, const DirFd& to, const std::string& b,
              unsigned flags) {
  return ::renameat2(from.fd(), a.c_str(), to.fd(), b.c_str(), flags);
}

// A directory of ours inside a tree someone else can write: made by us
// (owner euid) and closed to others, so nobody else put anything in it.
void check_ours(const DirFd& dir) {
  if (auto why = untrusted_because(dir.stat(), /*dir=*/true))
    throw changed(dir.path(), "is not ours: it " + *why);
}

bool marker_in(const DirFd& backup) {
  auto st = backup.stat_at(kAsideMarker);
  return st && !untrusted_because(*st, /*dir=*/false);
}

// Step 1, one level down: old children aside, then staged children in.
void put_in_place_inside(const SwapTree& t, const SwapDir& s) {
  const DirFd& target = s.dir;
  std::optional<DirFd> backup = target.open_dir_if_exists(s.backup);
  if (!backup || !marker_in(*backup)) {
    if (!holds_staged(target, s.staging, t)) return;  // nothing staged: rolled back, or never begun
    if (!backup) {
      if (::mkdirat(target.fd(), s.backup.c_str(), 0700) != 0)
        throw io_error(target.path_of(s.backup), "cannot create", errno, kRecoverHint);
      backup = target.open_dir(s.backup);
    }
    check_ours(*backup);
    for (const auto& name : target.list())
      if (name != s.staging && name != s.backup &&
          rename_at(target, name, *backup, name, RENAME_NOREPLACE) != 0)
        throw io_error(target.path_of(name), "cannot move into " + backup->path(), errno, kRecoverHint);
    UniqueFd marker = backup->open_at(kAsideMarker, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!marker || ::fsync(marker.get()) != 0)
      throw io_error(backup->path_of(kAsideMarker), "cannot write", errno, kRecoverHint);
    backup->sync();
    target.sync();
  }
  std::optional<DirFd> staging = target.open_dir_if_exists(s.staging);
  if (!staging) return;  // the second half is done
  struct stat root = staging->stat();
  if (root.st_dev != t.staged_dev || root.st_ino != t.staged_ino)
    throw changed(staging->path(), "is not the staged tree");
  // root was read before emptying it changes its mtime (after a crash in
  // this loop the mtime is the one thing not exact).
  for (const auto& name : staging->list()) {
    if (rename_at(*staging, name, target, name, RENAME_NOREPLACE) == 0) continue;
    // The target's owner made an entry of that name after the old ones went
    // aside: it is not ours to keep in the restored tree, and must not
    // block the swap (recover would meet it again). Exchange it for the
    // staged entry, then it joins the old tree (or, if that name is taken
    // there too, is removed).
    if ((errno != EEXIST && errno != ENOTEMPTY) ||
        rename_at(*staging, name, target, name, RENAME_EXCHANGE) != 0)
      throw io_error(staging->path_of(name), "cannot move into " + target.path(), errno, kRecoverHint);
    if (!backup) backup = target.open_dir(s.backup);
    if (rename_at(*staging, name, *backup, name, RENAME_NOREPLACE) != 0)
      remove_tree_at(staging->fd(), name, staging->path_of(name));
  }
  if (::unlinkat(target.fd(), s.staging.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    throw io_error(staging->path(), "cannot remove", errno, kRecoverHint);
  // The mount point takes the staged root's owner, mode and mtime, through
  // its fd; after the rmdir, which touches the mtime.
  if (::geteuid() == 0 && ::fchown(target.fd(), root.st_uid, root.st_gid) != 0)
    throw io_error(target.path(), "cannot set owner", errno);
  if (::fchmod(target.fd(), root.st_mode & 07777) != 0)
    throw io_error(target.path(), "cannot set permissions", errno);
  const timespec times[2] = {{0, UTIME_NOW}, root.st_mtim};
  if (::futimens(target.fd(), times) != 0)
    throw io_error(target.path(), "cannot set modification time", errno);
  target.sync();
}

// Undo, one level down: new children out, old children back.
void take_back_inside(const SwapDir& s) {
  const DirFd& target = s.dir;
  if (std::optional<DirFd> backup = target.open_dir_if_exists(s.backup)) {
    check_ours(*backup);
    if (marker_in(*backup)) {  // the target's children are (partly) new ones
      for (const auto& name : target.list())
        if (name != s.staging && name != s.backup) remove_tree_at(target.fd(), name, target.path_of(name));
      ::unlinkat(backup->fd(), kAsideMarker, 0);
    }
    for (const auto& name : backup->list())
      if (rename_at(*backup, name, target, name, RENAME_NOREPLACE) != 0)
        throw io_error(backup->path_of(name), "cannot move back into " + target.path(), errno);
    ::unlinkat(target.fd(), s.backup.c_str(), AT_REMOVEDIR);
  }
  remove_tree_at(target.fd(), s.staging, target.path_of(s.staging));
  target.sync();
}

// Step 1 for one tree: the staged tree takes the target's name.
void put_in_place(const SwapTree& t, const SwapDir& s) {
  if (t.in_place) return put_in_place_inside(t, s);
  if (holds_staged(s.dir, s.target, t)) return;  // done before a crash
  if (!holds_staged(s.dir, s.staging, t)) throw changed(s.dir.path_of(s.staging), "is not the staged tree");
  auto old = s.dir.stat_at(s.target);
  // What the exchange would move aside must be the old tree, a directory.
  if (old && !S_ISDIR(old->st_mode)) throw changed(t.target, "is no longer a directory");
  int ret = t.target_existed && old ? rename_at(s.dir, s.staging, s.dir, s.target, RENAME_EXCHANGE)
                                    : rename_at(s.dir, s.staging, s.dir, s.target, RENAME_NOREPLACE);
  if (ret != 0) throw io_error(t.target, "cannot swap in the restored tree", errno, kRecoverHint);
  s.dir.sync();
  if (!holds_staged(s.dir, s.target, t))
    throw changed(t.target, "does not hold the restored tree after the swap");
}

// Step 2 for one tree: the old tree, now under the staging name, goes to
// the backup name (also with discard_old: it is removed once the journal
// is gone, so that its removal can fail without blocking anything). The new
// tree is in place already: a failure here (someone took the backup name in
// a parent they can write) is reported, and the old tree stays where it is.
// Returns false when the old tree could not be moved (then the backup name
// is not ours, and discard_old must leave it alone).
bool put_old_aside(const SwapTree& t, const SwapDir& s, Reporter& reporter) {
  if (t.in_place) return true;  // already aside, inside the target
  auto st = s.dir.stat_at(s.staging);
  if (!st || holds_staged(s.dir, s.staging, t)) return true;
  if (rename_at(s.dir, s.staging, s.dir, s.backup, RENAME_NOREPLACE) != 0) {
    const int err = errno;
    reporter.warning(io_error(t.backup(), "cannot move the old tree aside", err).what() +
                     std::string("; the restored tree is in place, the old one is at ") + t.staging() +
                     ": move or remove it by hand");
    return false;
  }
  s.dir.sync();
  return true;
}

// With discard_old, after the journal is gone: the old tree is removed.
// Its owner may have made that impossible; then it stays, and is reported.
void discard_old(const SwapTree& t, const SwapDir& s, Reporter& reporter) {
  try {
    if (!s.dir.stat_at(s.backup)) return;
    const struct stat root = s.dir.stat();
    remove_tree_at(s.dir.fd(), s.backup, t.backup());
    s.dir.sync();
    if (t.in_place) {  // the restored mtime stays
      const timespec times[2] = {{0, UTIME_OMIT}, root.st_mtim};
      ::futimens(s.dir.fd(), times);
    }
  } catch (const Error& e) {
    reporter.warning(std::string("the restore is complete, but the old tree could not be removed: ") +
                     e.what() + "; remove " + t.backup() + " by hand");
  }
}

// Undo step 1 for one tree: the old tree back, the new one removed.
void take_back(const SwapTree& t, const SwapDir& s) {
  if (t.in_place) return take_back_inside(s);
  if (holds_staged(s.dir, s.target, t)) {
    auto old = s.dir.stat_at(s.staging);
    int ret = t.target_existed && old ? rename_at(s.dir, s.staging, s.dir, s.target, RENAME_EXCHANGE)
                                      : rename_at(s.dir, s.target, s.dir, s.staging, RENAME_NOREPLACE);
    if (ret != 0) throw io_error(t.target, "cannot put the old tree back", errno);
    s.dir.sync();
  }
  if (holds_staged(s.dir, s.staging, t)) remove_tree_at(s.dir.fd(), s.staging, t.staging());
}

void remove_journals(const SwapPlan& plan) {
  auto dir = open_state_dir();
  if (!dir) return;
  for (const auto& t : plan.trees) {
    remove_journal_leftovers(t.target);
    const std::string name = name_of(journal_path(t.target));
    if (::unlinkat(dir->fd(), name.c_str(), 0) != 0 && errno != ENOENT)
      throw io_error(dir->path_of(name), "cannot remove journal", errno);
  }
  dir->sync();
}

}  // namespace

SwapOutcome complete_swap(const SwapPlan& plan, const std::vector<std::string>& roots, Reporter& reporter) {
  BlockSignals hold;
  // Every directory the swap acts in, opened before anything moves.
  std::vector<SwapDir> dirs;
  for (const auto& t : plan.trees) dirs.push_back(open_swap_dir(t, roots));
  // Roll forward only if every new tree is still there, in place or staged.
  bool forward = true;
  for (std::size_t i = 0; i < plan.trees.size(); ++i) {
    const SwapTree& t = plan.trees[i];
    const SwapDir& s = dirs[i];
    bool staged = holds_staged(s.dir, s.staging, t);
    if (t.in_place) {
      auto backup = s.dir.open_dir_if_exists(s.backup);
      staged = staged || (backup && marker_in(*backup));
    } else {
      staged = staged || holds_staged(s.dir, s.target, t);
    }
    forward = forward && staged;
  }
  std::vector<bool> aside(plan.trees.size(), false);
  if (forward) {
    for (std::size_t i = 0; i < plan.trees.size(); ++i) put_in_place(plan.trees[i], dirs[i]);
    for (std::size_t i = 0; i < plan.trees.size(); ++i)
      aside[i] = put_old_aside(plan.trees[i], dirs[i], reporter);
  } else {
    reporter.warning("a staged tree of the interrupted restore is missing: rolling back");
    for (std::size_t i = 0; i < plan.trees.size(); ++i) take_back(plan.trees[i], dirs[i]);
  }
  // The new trees are in place (or the old ones back): nothing is pending.
  remove_journals(plan);
  if (forward && plan.discard_old)
    for (std::size_t i = 0; i < plan.trees.size(); ++i)
      if (aside[i]) discard_old(plan.trees[i], dirs[i], reporter);
  return forward ? SwapOutcome::kCompleted : SwapOutcome::kRolledBack;
}

SwapOutcome complete_swap(const SwapPlan& plan, Reporter& reporter) {
  std::vector<std::string> roots;
  for (const auto& t : plan.trees) roots.push_back(t.target);
  return complete_swap(plan, roots, reporter);
}

}  // namespace jb
