// Recursive removal for trees that another user may be changing while we
// remove them (the old tree after a restore, a leftover staging directory).
//
// It never follows a symlink and never acts on a directory by a path that
// could be re-resolved: each directory is opened with O_NOFOLLOW|O_DIRECTORY
// relative to its parent's fd, checked (fstat) to be what was listed, made
// writable with fchmod on that fd when its restored mode (0555, 0000) would
// refuse the unlinks, and emptied through it. The walk holds at most two
// fds whatever the depth: it descends keeping one, and climbs back with
// openat(fd, "..") checked against the (dev, ino) remembered on the way
// down; each directory is listed once (again only if entries appear), so
// time is linear in the size of the tree. A directory that is moved, or an
// entry swapped for another, under the walk is an error naming it, never a
// reason to act elsewhere; so is a mount point inside the tree (another
// filesystem is not part of it).
#pragma once

#include <string>

namespace jb {

// Removes `name` inside the directory `dir_fd` (AT_FDCWD for the cwd) and
// everything below it. Missing is not an error. Throws Error(kRuntime).
void remove_tree_at(int dir_fd, const std::string& name, const std::string& display_path);

// Same, by path: the path up to its last component is trusted (followed).
void remove_tree(const std::string& path);

}  // namespace jb
