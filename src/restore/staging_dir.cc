#include "jellyfin_backup/restore/staging_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/remove_tree.h"
#include "jellyfin_backup/restore/state_dir.h"

namespace jb {

std::string StagingDir::prefix_for(const std::string& target, bool inside) {
  if (inside) return target + "/.jellyfin-backup-staging.";
  return parent_of(target) + "/." + name_of(target) + ".jellyfin-backup-staging.";
}

DirFd open_target_parent(const std::string& target, const std::vector<std::string>& roots) {
  const std::string parent = parent_of(target);
  for (const auto& root : roots) {
    if (root == target || root == parent) continue;
    const std::string rel = relative_below(parent, root);
    if (!rel.empty()) return DirFd::open_resolved(root).open_beneath(rel);
  }
  return DirFd::open_resolved(parent);
}

StagingDir StagingDir::create(const std::string& target, bool inside, const std::vector<std::string>& roots) {
  const std::string path = prefix_for(target, inside) + std::to_string(::getpid());
  const std::string name = name_of(path);
  DirFd parent = open_target_parent(target, roots);
  if (inside) parent = parent.open_dir(name_of(target));
  const struct stat before = parent.stat();
  // A leftover of an earlier run of ours with the same pid: nobody uses it.
  remove_tree_at(parent.fd(), name, path);
  if (::mkdirat(parent.fd(), name.c_str(), 0700) != 0)
    throw io_error(path, "cannot create staging directory", errno,
                   errno == EACCES ? "run as a user that can write beside the target (root)" : "");
  UniqueFd fd = parent.open_at(name, O_RDONLY | O_DIRECTORY);
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || untrusted_because(st, /*dir=*/true)) {
    int err = fd ? 0 : errno;
    ::unlinkat(parent.fd(), name.c_str(), AT_REMOVEDIR);
    throw io_error(path, "cannot open staging directory", err);
  }
  StagingDir staging(path, std::move(parent), std::move(fd));
  if (inside) {
    staging.touched_ = true;
    staging.touched_mtime_ = before.st_mtim;
  }
  return staging;
}

StagingDir::StagingDir(StagingDir&& other) noexcept
    : path_(std::move(other.path_)),
      parent_(std::move(other.parent_)),
      fd_(std::move(other.fd_)),
      released_(other.released_),
      touched_(other.touched_),
      touched_mtime_(other.touched_mtime_) {
  other.released_ = true;
}

void StagingDir::remove() {
  if (released_) return;
  released_ = true;
  fd_.reset();
  remove_tree_at(parent_.fd(), name_of(path_), path_);
  if (touched_) {
    const timespec times[2] = {{0, UTIME_OMIT}, touched_mtime_};
    ::futimens(parent_.fd(), times);
  }
}

StagingDir::~StagingDir() {
  try {
    remove();
  } catch (...) {
    // Best effort on the error path; recover cleans what is left.
  }
}

}  // namespace jb
