// The directory a tree is extracted into before it may replace the target:
// a hidden sibling of the target (same filesystem, so the swap is a rename),
// "<parent>/.<name>.jellyfin-backup-staging.<pid>", mode 0700 while it is
// filled. Removed on destruction unless the swap took it over (release()).
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "jellyfin_backup/io/dir_fd.h"
#include "jellyfin_backup/io/unique_fd.h"

namespace jb {

class StagingDir {
 public:
  // `target` must be absolute and its parent must exist. With `inside`
  // (the target is a mount point, which cannot be renamed), the staging
  // directory is made inside the target instead, on its filesystem.
  // `roots`: the trees the command was given; a parent inside one of them
  // is reached beneath it, never through a symlink (open_target_parent).
  static StagingDir create(const std::string& target, bool inside = false,
                           const std::vector<std::string>& roots = {});
  StagingDir(StagingDir&&) noexcept;
  StagingDir& operator=(StagingDir&&) = delete;
  ~StagingDir();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // What follows prefix_for() in its name (this process's pid): the swap
  // journal records it, and derives the path from it by the same rule.
  std::string id() const { return path_.substr(path_.rfind('.') + 1); }
  // The staging directory now belongs to the swap (or was removed by it).
  void release() { released_ = true; }
  // Removes it now (idempotent).
  void remove();

  // "<parent>/.<name>.jellyfin-backup-staging." : what recover looks for.
  static std::string prefix_for(const std::string& target, bool inside = false);

 private:
  StagingDir(std::string path, DirFd parent, UniqueFd fd)
      : path_(std::move(path)), parent_(std::move(parent)), fd_(std::move(fd)) {}
  std::string path_;
  DirFd parent_;  // where it was made: every later step acts through it
  UniqueFd fd_;
  bool released_ = false;
  // Inside a mount point, making and removing the staging directory touches
  // the target's mtime: removal puts it back ("targets untouched").
  bool touched_ = false;
  timespec touched_mtime_{};
};

// The directory that holds `target` (and its staging and backup names),
// opened once. If that directory lies inside one of `roots` (the other tree
// of a nested layout, which its owner can write), it is opened from that
// root one component at a time, never through a symlink; otherwise by path
// (the caller trusts the path to a tree's parent).
DirFd open_target_parent(const std::string& target, const std::vector<std::string>& roots);

}  // namespace jb
