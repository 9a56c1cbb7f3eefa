#include "jellyfin_backup/restore/staging_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/paths.h"
#include "jellyfin_backup/io/remove_tree.h"

namespace jb {

std::string StagingDir::prefix_for(const std::string& target, bool inside) {
  if (inside) return target + "/.jellyfin-backup-staging.";
  return parent_of(target) + "/." + name_of(target) + ".jellyfin-backup-staging.";
}

StagingDir StagingDir::create(const std::string& target, bool inside) {
  std::string path = prefix_for(target, inside) + std::to_string(::getpid());
  struct stat before;
  bool remember = inside && ::stat(target.c_str(), &before) == 0;
  // A leftover of an earlier run of ours with the same pid: nobody uses it.
  remove_tree(path);
  if (::mkdir(path.c_str(), 0700) != 0)
    throw io_error(path, "cannot create staging directory", errno,
                   errno == EACCES ? "run as a user that can write beside the target (root)" : "");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    ::rmdir(path.c_str());
    throw io_error(path, "cannot open staging directory", err);
  }
  StagingDir staging(std::move(path), std::move(fd));
  if (remember) {
    staging.touched_ = target;
    staging.touched_mtime_ = before.st_mtim;
  }
  return staging;
}

StagingDir::StagingDir(StagingDir&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::move(other.fd_)),
      released_(other.released_),
      touched_(std::move(other.touched_)),
      touched_mtime_(other.touched_mtime_) {
  other.released_ = true;
}

void StagingDir::remove() {
  if (released_) return;
  released_ = true;
  fd_.reset();
  remove_tree(path_);
  if (!touched_.empty()) {
    const timespec times[2] = {{0, UTIME_OMIT}, touched_mtime_};
    ::utimensat(AT_FDCWD, touched_.c_str(), times, 0);
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
