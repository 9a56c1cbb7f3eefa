// Recursive removal that never follows a symlink out of the tree it removes
// (openat + O_NOFOLLOW all the way down), and copes with directories whose
// restored mode (0555) would refuse the unlinks.
#pragma once

#include <string>

namespace jb {

// Removes `name` inside the directory `dir_fd` (AT_FDCWD for the cwd) and
// everything below it. Missing is not an error. Throws Error(kRuntime).
void remove_tree_at(int dir_fd, const std::string& name, const std::string& display_path);

// Same, by path.
void remove_tree(const std::string& path);

}  // namespace jb
