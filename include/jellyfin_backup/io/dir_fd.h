// A directory held open by its fd: the one way the tool acts inside a tree
// that another user (the `jellyfin` user) can write.
//
// Root must never be steered by a path string re-resolved in such a tree: a
// component swapped for a symlink between two calls would take it anywhere.
// So a tree is entered once, at its root (whose path the caller trusts), and
// everything below goes through the fds opened on the way down: each step
// opens one component with O_NOFOLLOW, and what was opened can be checked
// (same_as) against what was planned. The same helper lists directories, so
// no other code needs its own opendir/readdir loop or DIR* closer.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jellyfin_backup/io/unique_fd.h"

namespace jb {

class DirFd {
 public:
  DirFd() = default;
  DirFd(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  // The directory at `path`. Symlinks along `path` are followed: the caller
  // trusts the path up to here (a tree's root given on the command line).
  // Throws io_error (kRuntime) naming `path`.
  static DirFd open(const std::string& path);
  // Same, but nullopt when `path` does not exist (ENOENT).
  static std::optional<DirFd> open_if_exists(const std::string& path);

  // The directory at `path`, an absolute path already free of symlinks (see
  // resolve_path): opened from "/" one component at a time, never through a
  // symlink, so a component swapped for a link since it was resolved is an
  // error, not a detour.
  static DirFd open_resolved(const std::string& path);

  // The child directory `name` (one component), never through a symlink:
  // a symlink or a non-directory there is an error (ENOTDIR/ELOOP).
  DirFd open_dir(std::string_view name) const;
  // Same, but nullopt when there is nothing called `name`.
  std::optional<DirFd> open_dir_if_exists(std::string_view name) const;
  // The directory `relative` ("a/b/c") below this one, one component at a
  // time, none of them through a symlink.
  DirFd open_beneath(std::string_view relative) const;

  // The child file `name` opened with `flags` | O_NOFOLLOW | O_CLOEXEC
  // (no symlink is followed). Returns an invalid UniqueFd and leaves errno
  // set on failure, so the caller can choose its message.
  UniqueFd open_at(std::string_view name, int flags, mode_t mode = 0) const;

  // fstat of the directory itself.
  struct stat stat() const;
  // fstatat(name, AT_SYMLINK_NOFOLLOW); nullopt when `name` does not exist.
  std::optional<struct stat> stat_at(std::string_view name) const;

  // The entries' names, without "." and "..", sorted bytewise, only those
  // starting with `prefix`. Reads through a fresh open of the directory, so
  // it can be called any number of times.
  std::vector<std::string> list(std::string_view prefix = {}) const;

  // fsync of the directory: makes renames and unlinks in it durable.
  void sync() const;

  int fd() const { return fd_.get(); }
  // Gives up the fd, for a caller that keeps it as a plain UniqueFd.
  UniqueFd take_fd() && { return std::move(fd_); }
  explicit operator bool() const { return static_cast<bool>(fd_); }
  // The path this was opened as: for messages only, never to act on.
  const std::string& path() const { return path_; }
  // path() + "/" + name, for messages.
  std::string path_of(std::string_view name) const;

 private:
  UniqueFd fd_;
  std::string path_;
};

// True if `a` and `b` are the same inode (dev and ino), and of the same type.
bool same_file(const struct stat& a, const struct stat& b);

// Opens a file the tool did not create, for reading: never through a symlink
// in its last component, and only if it is a regular file. A FIFO would block
// for ever and a device could be anything, so the open is O_NONBLOCK and the
// type is checked with fstat before a byte is read (then the fd is made
// blocking again). `dir_fd` may be AT_FDCWD. Returns an invalid fd with errno
// set on failure; a non-regular file fails with errno EINVAL (a directory
// with EISDIR).
UniqueFd open_regular_file(int dir_fd, const std::string& name);

// The whole of a small file the tool did not create, read as
// open_regular_file does; nullopt when it is missing, not a regular file,
// unreadable, or longer than `max_bytes`. With `follow_link`, a symlink in
// the last component is followed (system files such as systemd units are
// links by design) and what it leads to must still be a regular file.
std::optional<std::string> read_regular_file(const std::string& path, std::size_t max_bytes,
                                             bool follow_link = false);

}  // namespace jb
