// What a restore keeps from the current tree: what the archive does not
// hold on purpose. An archive made with --exclude 'data/metadata/*' has no
// metadata, and none has the log, cache and transcode directories create
// leaves out; restoring it must not throw the live ones away with the old
// tree (`restore --no-keep-excluded` does, when asked).
//
// Kept entries are hard-linked from the current tree into the staged one,
// at the same place, before the swap's journal is written. The current tree
// is not changed (its files gain a link, nothing moves), so a crash at any
// instant leaves it whole; the staged tree is whole before the swap makes it
// the target. Afterwards the old tree kept as .bak and the restored one
// share those files. Directories are made anew with the current ones'
// owner, mode, mtime and extended attributes.
//
// The current tree belongs to the `jellyfin` user: it is walked through
// directory fds, never following a symlink, every link checked against
// what was planned (same inode), and a filesystem mounted inside it is
// passed over (it stays with the old tree).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jellyfin_backup/archive/manifest.h"
#include "jellyfin_backup/create/exclude_set.h"
#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/reporter.h"

namespace jb {

struct KeptEntry {
  std::string path;    // archive path: "data/metadata", "data/log"
  std::string reason;  // "--exclude 'data/metadata/*'", "log directory, never backed up"
  std::uint64_t entries = 0;  // itself and everything below it
  std::uint64_t bytes = 0;    // of its regular files
};

// Which paths of one tree the restore takes from the current tree, and why.
class KeepRule {
 public:
  explicit KeepRule(std::string tree) : tree_(std::move(tree)) {}
  // What `manifest` says the archive left out of `tree`: the entries its
  // excludes match, and its left-out directories (but not previous trees a
  // restore kept inside a tree: those stay with the old tree).
  static KeepRule left_out_by(const Manifest& manifest, const std::string& tree);

  // One more path, relative to the tree.
  void add(std::string rel, std::string reason);
  // Why `rel` (relative to the tree) is kept; nullopt if it is not.
  std::optional<std::string> reason(const std::string& rel, bool is_dir) const;
  // Whether anything below the directory `rel` ("" for the root) may be kept.
  bool may_keep_below(const std::string& rel) const;
  bool empty() const { return excludes_.empty() && paths_.empty(); }
  const std::string& tree() const { return tree_; }

 private:
  std::string tree_;
  ExcludeSet excludes_;
  std::map<std::string, std::string> paths_;  // relative path -> reason
  mutable std::uint64_t steps_ = 0;           // matching work so far (bounded)
};

// Links into `staged` every entry of `current` that `rule` keeps, at the
// same relative path, where the staged tree has the parent directory and
// not the entry itself (what the archive holds is the archive's). Paths in
// `skip` (relative: a tree nested in this one, restored on its own) and
// root entries named ".jellyfin-backup-*" (staging and old trees inside a
// mount point) are passed over. Returns the kept entries, in tree order.
// Throws io_error if a link cannot be made (another filesystem, EPERM as a
// user who does not own the files), Error(kRefused) if the tree changes
// under the walk (the staged tree found inside it, an entry swapped) or the
// archive's patterns take too long to match. An entry gone since its
// directory was listed is passed over.
std::vector<KeptEntry> keep_from_current(const DirFd& current, const DirFd& staged, const KeepRule& rule,
                                         const std::vector<std::string>& skip, Reporter& reporter);

}  // namespace jb
