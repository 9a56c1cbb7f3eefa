// What a restore would change in a tree: compares the staged tree with the
// current target by a stat-only walk of both (type, size, mode, mtime, owner,
// symlink target). Used by --dry-run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace jb {

struct TreeDiff {
  std::uint64_t added = 0, removed = 0, changed = 0, unchanged = 0;
  // The first few paths of each kind, relative to the tree, for the report.
  std::vector<std::string> added_paths, removed_paths, changed_paths;
};

// `target` may not exist (everything is added). Paths in `ignore`, relative
// to both roots, are left out with everything below them: the staging
// directory inside a mount point, a nested tree reported on its own.
TreeDiff diff_trees(const std::string& staged, const std::string& target,
                    const std::vector<std::string>& ignore = {});

}  // namespace jb
