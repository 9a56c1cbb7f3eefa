#include "jellyfin_backup/io/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "jellyfin_backup/error.h"
#include "jellyfin_backup/io/interrupt.h"
#include "jellyfin_backup/io/names.h"

namespace jb {
namespace {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Moves `from` to `to` but never replaces an existing `to`.
void rename_no_replace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  int err = errno;
  if (err == EEXIST)
    throw exists_error(to, "it was created while the archive was written; "
                                            "nothing was overwritten");
  if (err != EINVAL && err != ENOSYS) throw io_error(to, "cannot rename the finished archive", err);
  // Filesystems without RENAME_NOREPLACE: link() also refuses to replace.
  if (::link(from.c_str(), to.c_str()) != 0) {
    err = errno;
    if (err == EEXIST) throw exists_error(to, "it was created while the archive was written; nothing was overwritten");
    throw io_error(to, "cannot link the finished archive", err);
  }
  ::unlink(from.c_str());
}

}  // namespace

void fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw io_error(dir, "cannot open directory to sync it", errno);
  if (::fsync(fd.get()) != 0 && errno != EINVAL)
    throw io_error(dir, "cannot sync directory", errno);
}

void check_output_dir(const std::string& dir, const std::string& missing_hint) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    throw io_error(dir, "cannot use output directory", errno, errno == ENOENT ? missing_hint : "");
  if (!S_ISDIR(st.st_mode)) throw io_error(dir, "output directory is not a directory", 0);
}

AtomicFile AtomicFile::create(const std::string& final_path, Mode mode) {
  std::string dir = dir_of(final_path);
  check_output_dir(dir, "create it first, or write somewhere else");
  struct stat st;
  if (mode == kNoReplace && ::lstat(final_path.c_str(), &st) == 0)
    throw exists_error(final_path, "an existing file is never overwritten; choose another name");

  for (int attempt = 0;; ++attempt) {
    std::string temp = dir + "/." + base_of(final_path) + ".tmp-" + random_suffix();
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST && attempt < 16) continue;
      throw io_error(dir, "cannot create a file in the output directory", errno);
    }
    UniqueFd owned(fd);
    // The umask may only remove bits; make the mode exactly 0600 either way.
    if (::fchmod(fd, 0600) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      throw io_error(temp, "cannot set mode 0600", err);
    }
    return AtomicFile(final_path, std::move(temp), std::move(owned), mode);
  }
}

AtomicFile::AtomicFile(std::string final_path, std::string temp_path, UniqueFd fd, Mode mode)
    : final_path_(std::move(final_path)),
      temp_path_(std::move(temp_path)),
      fd_(std::move(fd)),
      mode_(mode) {
  cleanup_slot_ = register_cleanup_path(temp_path_);
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : final_path_(std::move(other.final_path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::move(other.fd_)),
      mode_(other.mode_),
      committed_(other.committed_),
      cleanup_slot_(std::exchange(other.cleanup_slot_, -1)) {
  other.committed_ = true;  // the moved-from object owns nothing to remove
}

AtomicFile::~AtomicFile() {
  unregister_cleanup_path(cleanup_slot_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
  write_all(fd_.get(), data, size, temp_path_);
}

void AtomicFile::commit() {
  if (::fsync(fd_.get()) != 0) throw io_error(temp_path_, "cannot sync to disk", errno);
  if (::close(fd_.release()) != 0) throw io_error(temp_path_, "cannot close", errno);
  throw_if_interrupted();  // the handler may already have removed the temp file
  if (mode_ == kReplace) {
    // rename() swaps the new file in whole: a reader sees the old content
    // or the new, never a mix.
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
      throw io_error(final_path_, "cannot replace", errno);
  } else {
    rename_no_replace(temp_path_, final_path_);
  }
  committed_ = true;
  unregister_cleanup_path(cleanup_slot_);
  cleanup_slot_ = -1;
  fsync_dir(dir_of(final_path_));
}

}  // namespace jb
